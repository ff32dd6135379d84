//! The learner's progress, read-only: mastery per subject (θ ± SE as an expected score) and per
//! KC (BKT mastery with a band and its evidence), accuracy trend, streak, reviews due and their
//! 7-day forecast, the predicted exam score with an interval, and XP with level and rank.
//!
//! # Definitions
//! * **Days** are Africa/Algiers days. Algeria keeps UTC+01:00 all year (no daylight saving
//!   since 1981), so a fixed offset is exact and no time-zone database is needed.
//! * **Streak**: consecutive local days with at least one answer, ending today or yesterday (a
//!   streak is not broken before the day is over); computed from the attempts themselves, so
//!   a day is never lost because nobody looked at the counter.
//! * **KC mastery band**: BKT gives P(known) = m after n graded answers. The band is ± one
//!   standard deviation of Beta(m·n + 1, (1 − m)·n + 1), the distribution of a proportion m
//!   seen over n trials: wide with little evidence (± 29 points at n = 0), narrow with much
//!   (70 % after 14 answers: ± 11).
//! * **Expected score in a subject** at ability θ: the weighted mean of P(correct | θ) over the
//!   subject's approved items (calibrated parameters, else the priors), each KC of the
//!   blueprint weighing its items by its share (items share their KC's weight equally), or
//!   uniform without KC weights. The point is the posterior predictive (θ ~ N(θ̂, SE²)); the
//!   interval is the score at θ̂ ∓ 1.96 SE (the score is increasing in θ, so this is the 95 %
//!   interval of the posterior).
//! * **Predicted exam score**: the blueprint's subject shares times the subject scores,
//!   renormalised over the subjects that have items (`coverage` says how much of the exam
//!   that is); the interval adds the subjects' interval ends (abilities move together, so the
//!   ends are not assumed independent — the conservative choice).
//! * **XP** (domain §3.5): per **correct** graded answer, `round(base × multiplier × 0.1 + 1)
//!   + 1` with base qcm 10, qcs 8, qroc 12 and multiplier easy 3, medium 6, hard 15 (the
//!   difficulty of the revision answered). Wrong, ungraded and skipped answers earn nothing;
//!   one attempt per served item, so a repeat cannot earn twice. XP is lifetime and never
//!   spent: any spendable balance is a separate ledger. Levels at 0, 100, 250, 500, 800, 1200,
//!   1800, 2500, 3500, 5000, 7000. Rank = 1 + learners with strictly more XP, against a table
//!   of every learner's XP cached through the cache port for [`ProgressConfig::rank_ttl`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use myqcm_db::catalogue as catalogue_repo;
use myqcm_db::training::progress::{self as agg, DAY_MS};
use myqcm_db::training::{self as repo};
use myqcm_db::{DatabaseConnection, DbError};
use myqcm_domain::Clock;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::catalogue::{Difficulty, ItemKind};
use myqcm_domain::learning::{Ability, prior_item_params};
use myqcm_domain::permissions::Action;
use myqcm_domain::ports::Cache;
use myqcm_psychometrics::bkt::BktParams;
use myqcm_psychometrics::irt::{ItemModel, ItemParams};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Services;
use crate::catalogue::CatalogueError;
use crate::catalogue::curriculum;

/// Offset of Africa/Algiers from UTC (UTC+01:00, no daylight saving).
pub const ALGIERS_OFFSET_MS: i64 = 3_600_000;
/// Days of the accuracy trend.
pub const TREND_DAYS: i64 = 30;
/// Days of the review forecast.
pub const FORECAST_DAYS: i64 = 7;
/// z of the 95 % interval of a predicted score.
pub const Z95: f64 = 1.96;
/// XP thresholds of levels 1, 2, … 11.
pub const LEVELS: [i64; 11] = [0, 100, 250, 500, 800, 1200, 1800, 2500, 3500, 5000, 7000];
/// Weakest KCs listed in the overview.
pub const WEAKEST: usize = 5;

const RANK_KEY: &str = "progress:xp-table:v1";

/// Why a progress read failed.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    /// Unknown subject.
    #[error("not found")]
    NotFound,
    /// The caller may not train.
    #[error("forbidden")]
    Forbidden,
    /// Storage failure (logged, never shown).
    #[error("storage: {0}")]
    Store(String),
    /// The database cannot be reached right now (answered 503; retry shortly).
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl From<DbError> for ProgressError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Self::NotFound,
            DbError::Unavailable(m) => Self::Unavailable(m),
            other => Self::Store(other.to_string()),
        }
    }
}

impl From<sea_orm::DbErr> for ProgressError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<CatalogueError> for ProgressError {
    fn from(e: CatalogueError) -> Self {
        match e {
            CatalogueError::NotFound => Self::NotFound,
            other => Self::Store(other.to_string()),
        }
    }
}

/// Result alias.
pub type Result<T, E = ProgressError> = std::result::Result<T, E>;

/// Settings of the progress reads.
#[derive(Debug, Clone)]
pub struct ProgressConfig {
    /// How long the table of every learner's XP (for ranks) is reused; zero: never cached.
    pub rank_ttl: Duration,
}

impl Default for ProgressConfig {
    /// Ranks refreshed every 5 minutes.
    fn default() -> Self {
        Self {
            rank_ttl: Duration::from_secs(300),
        }
    }
}

/// The progress use cases. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Progress {
    db: DatabaseConnection,
    cache: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
    config: ProgressConfig,
}

impl Services {
    /// The progress use cases over this handle's database, cache and clock.
    pub fn progress(&self) -> Progress {
        Progress::new(
            self.db.clone(),
            self.cache.clone(),
            self.clock.clone(),
            ProgressConfig::default(),
        )
    }
}

// ---------------------------------------------------------------- views

/// A proportion with its band (fractions in [0, 1]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Band {
    /// Estimate.
    pub value: f64,
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

/// Mastery of one KC.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KcProgress {
    /// KC.
    pub kc_id: Uuid,
    /// Its subject.
    pub subject_id: Uuid,
    /// Code.
    pub code: String,
    /// Names per locale.
    #[schema(value_type = Object)]
    pub names: serde_json::Value,
    /// P(known) (BKT), `p_init` when never met.
    pub mastery: f64,
    /// ± one SD of the band (module documentation).
    pub plus_minus: f64,
    /// `mastery ∓ plus_minus`, clamped to [0, 1].
    pub band: Band,
    /// Graded answers on items tagged with the KC.
    pub evidence: u32,
}

/// One subject's progress.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SubjectProgress {
    /// Subject.
    pub subject_id: Uuid,
    /// Code.
    pub code: String,
    /// Names per locale.
    #[schema(value_type = Object)]
    pub names: serde_json::Value,
    /// Year of study of the subject.
    pub year_of_study: i32,
    /// θ̂ (logits), the prior 0 before any answer.
    pub theta: f64,
    /// Posterior SD of θ.
    pub se: f64,
    /// Graded answers absorbed by θ.
    pub answers: u32,
    /// Graded answers in the subject.
    pub graded: u32,
    /// Of which correct.
    pub correct: u32,
    /// `correct / graded`.
    pub percent_correct: Option<f64>,
    /// Expected score on the subject's items with its 95 % interval (none without items).
    pub expected_score: Option<Band>,
    /// Mean mastery over the subject's KCs (`p_init` for KCs never met).
    pub mean_mastery: Option<f64>,
    /// KCs met at least once.
    pub kcs_met: u32,
    /// KCs of the subject.
    pub kcs_total: u32,
}

/// XP, level and rank.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct XpView {
    /// Lifetime XP (never spent).
    pub total: i64,
    /// Level (1–11).
    pub level: u32,
    /// XP where the level starts.
    pub level_floor: i64,
    /// XP where the next level starts (none at the top).
    pub next_level_at: Option<i64>,
    /// 1 + learners with strictly more XP.
    pub rank: u64,
    /// Learners ranked (those with XP, and the caller).
    pub learners: u64,
    /// "Top X %": `ceil(rank / learners × 100)` clamped to [1, 99].
    pub top_percent: u32,
}

/// The streak in Africa/Algiers days.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StreakView {
    /// Consecutive days with an answer, ending today or yesterday.
    pub current: u32,
    /// Longest run ever.
    pub longest: u32,
    /// Whether today already counts.
    pub active_today: bool,
    /// Last day with an answer (`YYYY-MM-DD`).
    pub last_day: Option<String>,
}

/// Reviews due on one day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DueDay {
    /// Day (`YYYY-MM-DD`, Africa/Algiers).
    pub date: String,
    /// Reviews falling due that day (the first day includes overdue ones).
    pub due: i64,
}

/// Reviews due now and the forecast.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReviewsView {
    /// Due now.
    pub due_now: i64,
    /// Today and the 6 following days.
    pub forecast: Vec<DueDay>,
}

/// Graded answers of one day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TrendDay {
    /// Day (`YYYY-MM-DD`, Africa/Algiers).
    pub date: String,
    /// Graded answers.
    pub graded: u32,
    /// Of which correct.
    pub correct: u32,
    /// `correct / graded`, none on a day without answers.
    pub percent_correct: Option<f64>,
}

/// One subject's share of the predicted score.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SubjectShare {
    /// Subject.
    pub subject_id: Uuid,
    /// Code.
    pub code: String,
    /// Blueprint share.
    pub weight: f64,
    /// Expected score (none: no items, left out of the prediction).
    pub score: Option<Band>,
}

/// The predicted exam score.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PredictionView {
    /// Score as a fraction of the maximum, with its interval.
    pub score: Band,
    /// Share of the blueprint covered by subjects that have items.
    pub coverage: f64,
    /// Blueprint name.
    pub blueprint: String,
    /// Blueprint version (0: uniform default).
    pub blueprint_version: i32,
    /// Year of study.
    pub year_of_study: i32,
    /// Exam date from the profile.
    pub exam_date: Option<String>,
    /// Days until the exam (Africa/Algiers days).
    pub days_to_exam: Option<i64>,
    /// Per subject.
    pub subjects: Vec<SubjectShare>,
}

/// Totals over every graded answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Totals {
    /// Graded answers.
    pub graded: u32,
    /// Of which correct.
    pub correct: u32,
    /// `correct / graded`.
    pub percent_correct: Option<f64>,
}

/// The learner's progress overview (`GET /api/v1/progress`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProgressView {
    /// Today (`YYYY-MM-DD`, Africa/Algiers).
    pub today: String,
    /// `Africa/Algiers`.
    pub time_zone: String,
    /// Whether the profile (year of study) is set.
    pub profile_complete: bool,
    /// Totals.
    pub totals: Totals,
    /// XP, level, rank.
    pub xp: XpView,
    /// Streak.
    pub streak: StreakView,
    /// Reviews.
    pub reviews: ReviewsView,
    /// Predicted exam score (none before the year of study is known).
    pub prediction: Option<PredictionView>,
    /// Subjects of the learner's year and any subject answered in.
    pub subjects: Vec<SubjectProgress>,
    /// Up to five KCs with evidence, weakest first.
    pub weakest_kcs: Vec<KcProgress>,
    /// The last 30 days, oldest first.
    pub trend: Vec<TrendDay>,
}

/// One subject in detail (`GET /api/v1/progress/subjects/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SubjectDetail {
    /// The subject.
    pub subject: SubjectProgress,
    /// Every KC of the subject, in tree order.
    pub kcs: Vec<KcProgress>,
    /// The last 30 days in this subject.
    pub trend: Vec<TrendDay>,
}

// ---------------------------------------------------------------- pure parts

/// XP of one correct answer (domain §3.5).
pub fn xp_for(kind: ItemKind, difficulty: Difficulty) -> i64 {
    let base = match kind {
        ItemKind::Qcm => 10.0,
        ItemKind::Qcs => 8.0,
        ItemKind::Qroc => 12.0,
    };
    let multiplier = match difficulty {
        Difficulty::Easy => 3.0,
        Difficulty::Medium => 6.0,
        Difficulty::Hard => 15.0,
    };
    let type_bonus = 1;
    (base * multiplier * 0.1_f64 + 1.0).round() as i64 + type_bonus
}

/// Level (1-based), its floor and the next threshold.
pub fn level_of(xp: i64) -> (u32, i64, Option<i64>) {
    let idx = LEVELS.iter().rposition(|t| xp >= *t).unwrap_or(0);
    (
        u32::try_from(idx + 1).unwrap_or(1),
        LEVELS[idx],
        LEVELS.get(idx + 1).copied(),
    )
}

/// "Top X %" from a rank among `total` learners.
pub fn top_percent(rank: u64, total: u64) -> u32 {
    if total == 0 {
        return 1;
    }
    let p = (rank as f64 / total as f64 * 100.0).ceil();
    p.clamp(1.0, 99.0) as u32
}

/// Current and longest streak from the sorted distinct local days with answers.
pub fn streaks(days: &[i64], today: i64) -> (u32, u32) {
    let mut longest = 0u32;
    let mut run = 0u32;
    let mut prev: Option<i64> = None;
    for d in days {
        run = match prev {
            Some(p) if *d == p + 1 => run + 1,
            Some(p) if *d == p => run,
            _ => 1,
        };
        longest = longest.max(run);
        prev = Some(*d);
    }
    let current = match prev {
        Some(last) if last == today || last == today - 1 => run,
        _ => 0,
    };
    (current, longest)
}

/// ± one SD of Beta(m·n + 1, (1 − m)·n + 1) (module documentation).
pub fn mastery_sd(mastery: f64, evidence: u32) -> f64 {
    let m = mastery.clamp(0.0, 1.0);
    let n = f64::from(evidence);
    let a = m * n + 1.0;
    let b = (1.0 - m) * n + 1.0;
    let s = a + b;
    (a * b / (s * s * (s + 1.0))).sqrt()
}

fn kc_band(mastery: f64, evidence: u32) -> (f64, Band) {
    let sd = mastery_sd(mastery, evidence);
    (
        sd,
        Band {
            value: mastery,
            low: (mastery - sd).max(0.0),
            high: (mastery + sd).min(1.0),
        },
    )
}

/// Expected score of `ability` on weighted items (weights sum to 1): the posterior predictive
/// and its 95 % interval.
pub fn expected_score(ability: &Ability, items: &[(ItemParams, f64)]) -> Option<Band> {
    if items.is_empty() {
        return None;
    }
    let se = if ability.se.is_finite() {
        ability.se
    } else {
        1.0
    };
    let mut value = 0.0;
    let mut low = 0.0;
    let mut high = 0.0;
    for (p, w) in items {
        value += w * ability
            .p_correct(p)
            .unwrap_or_else(|_| p.p_correct(ability.theta));
        low += w * p.p_correct(ability.theta - Z95 * se);
        high += w * p.p_correct(ability.theta + Z95 * se);
    }
    Some(Band {
        value: value.clamp(low, high),
        low,
        high,
    })
}

fn date_of(day: i64) -> String {
    NaiveDate::from_num_days_from_ce_opt(719_163 + i32::try_from(day).unwrap_or(0))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn local_day(ms: i64) -> i64 {
    (ms + ALGIERS_OFFSET_MS).div_euclid(DAY_MS)
}

fn day_start_ms(day: i64) -> i64 {
    day * DAY_MS - ALGIERS_OFFSET_MS
}

fn share(correct: i64, graded: i64) -> Option<f64> {
    (graded > 0).then(|| correct as f64 / graded as f64)
}

fn u32_of(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

fn names(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or(serde_json::Value::Null)
}

fn trend(rows: &[agg::DayCount], today: i64) -> Vec<TrendDay> {
    (today - TREND_DAYS + 1..=today)
        .map(|d| {
            let r = rows.iter().find(|r| r.day == d);
            let (g, c) = r.map_or((0, 0), |r| (r.graded, r.correct));
            TrendDay {
                date: date_of(d),
                graded: u32_of(g),
                correct: u32_of(c),
                percent_correct: share(c, g),
            }
        })
        .collect()
}

/// The item weights of a subject's expected score: each weighted KC shares its weight equally
/// among its items; without KC weights (or none matching), uniform.
fn item_weights(
    items: &[Uuid],
    kc_weights: &[(Uuid, f64)],
    tags: &[(Uuid, Uuid, f64)],
) -> HashMap<Uuid, f64> {
    let present: HashSet<Uuid> = items.iter().copied().collect();
    let mut out: HashMap<Uuid, f64> = HashMap::new();
    let mut covered = 0.0;
    for (kc, w) in kc_weights {
        let of_kc: Vec<Uuid> = tags
            .iter()
            .filter(|(item, k, _)| k == kc && present.contains(item))
            .map(|(item, _, _)| *item)
            .collect();
        if of_kc.is_empty() {
            continue;
        }
        covered += w;
        for item in &of_kc {
            *out.entry(*item).or_default() += w / of_kc.len() as f64;
        }
    }
    if covered <= 0.0 {
        let w = 1.0 / items.len().max(1) as f64;
        return items.iter().map(|i| (*i, w)).collect();
    }
    for w in out.values_mut() {
        *w /= covered;
    }
    out
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RankTable {
    xp: Vec<(Uuid, i64)>,
}

fn xp_totals(rows: &[agg::XpCount]) -> HashMap<Uuid, i64> {
    let mut out: HashMap<Uuid, i64> = HashMap::new();
    for r in rows {
        let (Ok(kind), Ok(difficulty)) = (
            r.kind.parse::<ItemKind>(),
            r.difficulty.parse::<Difficulty>(),
        ) else {
            continue;
        };
        *out.entry(r.learner_id).or_default() += xp_for(kind, difficulty) * r.n;
    }
    out
}

// ---------------------------------------------------------------- use cases

impl Progress {
    /// The progress reads over `db`, with the cache (rank table) and the clock.
    pub fn new(
        db: DatabaseConnection,
        cache: Arc<dyn Cache>,
        clock: Arc<dyn Clock>,
        config: ProgressConfig,
    ) -> Self {
        Self {
            db,
            cache,
            clock,
            config,
        }
    }

    fn require(actor: &Actor) -> Result<()> {
        if actor.can(Action::Train) {
            Ok(())
        } else {
            Err(ProgressError::Forbidden)
        }
    }

    /// The caller's progress overview.
    pub async fn overview(&self, actor: &Actor) -> Result<ProgressView> {
        Self::require(actor)?;
        let learner = actor.id;
        let now = self.clock.now().timestamp_millis();
        let today = local_day(now);
        let profile = repo::profile(&self.db, learner).await?;
        let year = profile.as_ref().and_then(|p| p.year_of_study);
        let subjects = self.subjects_of(learner, year).await?;
        let weakest = self.weakest(learner).await?;
        let prediction = match (year, &profile) {
            (Some(y), Some(p)) => Some(self.prediction(&subjects, y, p, today).await?),
            _ => None,
        };
        let (graded, correct) = subjects
            .iter()
            .fold((0, 0), |(g, c), (s, _)| (g + s.graded, c + s.correct));
        let daily = agg::daily_accuracy(
            &self.db,
            learner,
            ALGIERS_OFFSET_MS,
            day_start_ms(today - TREND_DAYS + 1),
            None,
        )
        .await?;
        Ok(ProgressView {
            today: date_of(today),
            time_zone: "Africa/Algiers".into(),
            profile_complete: year.is_some(),
            totals: Totals {
                graded,
                correct,
                percent_correct: share(i64::from(correct), i64::from(graded)),
            },
            xp: self.xp(learner).await?,
            streak: self.streak(learner, today).await?,
            reviews: self.reviews(learner, now, today).await?,
            prediction,
            subjects: subjects.into_iter().map(|(s, _)| s).collect(),
            weakest_kcs: weakest,
            trend: trend(&daily, today),
        })
    }

    /// One subject in detail: every KC's mastery and the subject's trend.
    pub async fn subject(&self, actor: &Actor, subject_id: Uuid) -> Result<SubjectDetail> {
        Self::require(actor)?;
        let learner = actor.id;
        let subject = catalogue_repo::subject::Entity::find_by_id(subject_id)
            .one(&self.db)
            .await?
            .ok_or(ProgressError::NotFound)?;
        let now = self.clock.now().timestamp_millis();
        let today = local_day(now);
        let counts = agg::subject_accuracy(&self.db, learner).await?;
        let (progress, kcs) = self.subject_progress(learner, &subject, &counts).await?;
        let daily = agg::daily_accuracy(
            &self.db,
            learner,
            ALGIERS_OFFSET_MS,
            day_start_ms(today - TREND_DAYS + 1),
            Some(subject_id),
        )
        .await?;
        Ok(SubjectDetail {
            subject: progress.0,
            kcs,
            trend: trend(&daily, today),
        })
    }

    /// Subjects of `year` and any subject with an ability row, each with its KC weights source.
    async fn subjects_of(
        &self,
        learner: Uuid,
        year: Option<i32>,
    ) -> Result<Vec<(SubjectProgress, Vec<ItemParamsRow>)>> {
        let mut list = match year {
            Some(y) => catalogue_repo::subjects_of_year(&self.db, y).await?,
            None => vec![],
        };
        let abilities = repo::abilities(&self.db, learner, &[], false).await?;
        for a in &abilities {
            if !list.iter().any(|s| s.id == a.subject_id)
                && let Some(s) = catalogue_repo::subject::Entity::find_by_id(a.subject_id)
                    .one(&self.db)
                    .await?
            {
                list.push(s);
            }
        }
        let counts = agg::subject_accuracy(&self.db, learner).await?;
        let mut out = Vec::with_capacity(list.len());
        for s in &list {
            let ((p, items), _) = self.subject_progress(learner, s, &counts).await?;
            out.push((p, items));
        }
        Ok(out)
    }

    /// A subject's progress (expected score uniform over its items) and its KC rows.
    async fn subject_progress(
        &self,
        learner: Uuid,
        s: &catalogue_repo::subject::Model,
        counts: &[agg::SubjectCount],
    ) -> Result<((SubjectProgress, Vec<ItemParamsRow>), Vec<KcProgress>)> {
        let ability = repo::ability(&self.db, learner, s.id, false)
            .await?
            .map_or_else(Ability::default, |a| Ability {
                theta: a.theta,
                se: a.se,
                answers: u32::try_from(a.answers).unwrap_or(0),
            });
        let items = self.item_params(s.id).await?;
        let uniform: Vec<(ItemParams, f64)> = items
            .iter()
            .map(|r| (r.params, 1.0 / items.len() as f64))
            .collect();
        let kcs = self.kcs_of(learner, s.id).await?;
        let met = kcs.iter().filter(|k| k.evidence > 0).count();
        let mean_mastery = (!kcs.is_empty())
            .then(|| kcs.iter().map(|k| k.mastery).sum::<f64>() / kcs.len() as f64);
        let c = counts.iter().find(|c| c.subject_id == s.id);
        let (graded, correct) = c.map_or((0, 0), |c| (c.graded, c.correct));
        Ok((
            (
                SubjectProgress {
                    subject_id: s.id,
                    code: s.code.clone(),
                    names: names(&s.names),
                    year_of_study: s.year_of_study,
                    theta: ability.theta,
                    se: ability.se,
                    answers: ability.answers,
                    graded: u32_of(graded),
                    correct: u32_of(correct),
                    percent_correct: share(correct, graded),
                    expected_score: expected_score(&ability, &uniform),
                    mean_mastery,
                    kcs_met: u32::try_from(met).unwrap_or(u32::MAX),
                    kcs_total: u32::try_from(kcs.len()).unwrap_or(u32::MAX),
                },
                items,
            ),
            kcs,
        ))
    }

    /// Parameters of a subject's approved items in the active set (priors where missing).
    async fn item_params(&self, subject: Uuid) -> Result<Vec<ItemParamsRow>> {
        let set = repo::active_parameter_set(&self.db).await?;
        let rows = repo::pool_rows(&self.db, subject, &[], set).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let kind: ItemKind = r.kind.parse().ok()?;
                let difficulty: Difficulty = r.difficulty.parse().ok()?;
                let prior = || {
                    prior_item_params(kind, difficulty, usize::try_from(r.n_options).unwrap_or(0))
                };
                let params = match r.params {
                    Some((a, b, c)) => ItemParams::three_pl(a, b, c).unwrap_or_else(|_| prior()),
                    None => prior(),
                };
                Some(ItemParamsRow {
                    item_id: r.item_id,
                    params,
                })
            })
            .collect())
    }

    /// Every KC of a subject with the learner's mastery (`p_init` where never met).
    async fn kcs_of(&self, learner: Uuid, subject: Uuid) -> Result<Vec<KcProgress>> {
        let tree: Vec<_> = catalogue_repo::kc_tree(&self.db, subject)
            .await?
            .into_iter()
            .filter(|n| n.level == "kc")
            .collect();
        if tree.is_empty() {
            return Ok(vec![]);
        }
        let ids: Vec<Uuid> = tree.iter().map(|n| n.id).collect();
        let states: HashMap<Uuid, (f64, i32)> = repo::kc_states(&self.db, learner, &ids, false)
            .await?
            .into_iter()
            .map(|k| (k.kc_id, (k.mastery, k.evidence)))
            .collect();
        let set = repo::active_parameter_set(&self.db).await?;
        let p_init: HashMap<Uuid, f64> = repo::kc_parameters(&self.db, set, &ids)
            .await?
            .into_iter()
            .map(|p| (p.kc_id, p.p_init))
            .collect();
        let default_init = BktParams::default().p_init();
        Ok(tree
            .into_iter()
            .map(|n| {
                let (mastery, evidence) = states.get(&n.id).map_or_else(
                    || (p_init.get(&n.id).copied().unwrap_or(default_init), 0),
                    |(m, e)| (*m, u32::try_from(*e).unwrap_or(0)),
                );
                let (sd, band) = kc_band(mastery, evidence);
                KcProgress {
                    kc_id: n.id,
                    subject_id: n.subject_id,
                    code: n.code,
                    names: names(&n.names),
                    mastery,
                    plus_minus: sd,
                    band,
                    evidence,
                }
            })
            .collect())
    }

    /// KCs with evidence, weakest first (lowest mastery, then code).
    async fn weakest(&self, learner: Uuid) -> Result<Vec<KcProgress>> {
        let states = repo::kc_states(&self.db, learner, &[], false).await?;
        let mut rows: Vec<KcProgress> = Vec::new();
        let ids: Vec<Uuid> = states.iter().map(|s| s.kc_id).collect();
        let nodes: HashMap<Uuid, catalogue_repo::kc_node::Model> = if ids.is_empty() {
            HashMap::new()
        } else {
            use sea_orm::{ColumnTrait, QueryFilter};
            catalogue_repo::kc_node::Entity::find()
                .filter(catalogue_repo::kc_node::Column::Id.is_in(ids))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|n| (n.id, n))
                .collect()
        };
        for s in states.into_iter().filter(|s| s.evidence > 0) {
            let Some(n) = nodes.get(&s.kc_id) else {
                continue;
            };
            let evidence = u32::try_from(s.evidence).unwrap_or(0);
            let (sd, band) = kc_band(s.mastery, evidence);
            rows.push(KcProgress {
                kc_id: s.kc_id,
                subject_id: n.subject_id,
                code: n.code.clone(),
                names: names(&n.names),
                mastery: s.mastery,
                plus_minus: sd,
                band,
                evidence,
            });
        }
        rows.sort_by(|a, b| {
            a.mastery
                .total_cmp(&b.mastery)
                .then_with(|| a.code.cmp(&b.code))
        });
        rows.truncate(WEAKEST);
        Ok(rows)
    }

    async fn prediction(
        &self,
        subjects: &[(SubjectProgress, Vec<ItemParamsRow>)],
        year: i32,
        profile: &repo::learner_profile::Model,
        today: i64,
    ) -> Result<PredictionView> {
        let bp = curriculum::blueprint(&self.db, year, profile.faculty_id).await?;
        let mut shares = Vec::new();
        let (mut covered, mut value, mut low, mut high) = (0.0, 0.0, 0.0, 0.0);
        for w in &bp.weights.subjects {
            let Some((sp, items)) = subjects.iter().find(|(s, _)| s.code == w.subject) else {
                continue;
            };
            let tags = if w.kcs.is_empty() {
                vec![]
            } else {
                repo::subject_kc_tags(&self.db, sp.subject_id).await?
            };
            let codes: HashMap<String, Uuid> = if w.kcs.is_empty() {
                HashMap::new()
            } else {
                catalogue_repo::kc_tree(&self.db, sp.subject_id)
                    .await?
                    .into_iter()
                    .map(|n| (n.code, n.id))
                    .collect()
            };
            let kc_weights: Vec<(Uuid, f64)> = w
                .kcs
                .iter()
                .filter_map(|k| codes.get(&k.kc).map(|id| (*id, k.weight)))
                .collect();
            let ids: Vec<Uuid> = items.iter().map(|i| i.item_id).collect();
            let weights = item_weights(&ids, &kc_weights, &tags);
            let weighted: Vec<(ItemParams, f64)> = items
                .iter()
                .filter_map(|i| weights.get(&i.item_id).map(|w| (i.params, *w)))
                .filter(|(_, w)| *w > 0.0)
                .collect();
            let ability = Ability {
                theta: sp.theta,
                se: sp.se,
                answers: sp.answers,
            };
            let score = expected_score(&ability, &weighted);
            if let Some(b) = score {
                covered += w.weight;
                value += w.weight * b.value;
                low += w.weight * b.low;
                high += w.weight * b.high;
            }
            shares.push(SubjectShare {
                subject_id: sp.subject_id,
                code: sp.code.clone(),
                weight: w.weight,
                score,
            });
        }
        let total: f64 = bp.weights.subjects.iter().map(|s| s.weight).sum();
        let norm = |x: f64| if covered > 0.0 { x / covered } else { 0.0 };
        let exam = profile
            .exam_date
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        Ok(PredictionView {
            score: Band {
                value: norm(value),
                low: norm(low),
                high: norm(high),
            },
            coverage: if total > 0.0 { covered / total } else { 0.0 },
            blueprint: bp.name,
            blueprint_version: bp.version,
            year_of_study: year,
            exam_date: profile.exam_date.clone(),
            days_to_exam: exam.map(|d| i64::from(d.num_days_from_ce()) - 719_163 - today),
            subjects: shares,
        })
    }

    async fn xp(&self, learner: Uuid) -> Result<XpView> {
        let mine = xp_totals(&agg::xp_counts(&self.db, learner).await?)
            .get(&learner)
            .copied()
            .unwrap_or(0);
        let table = self.rank_table().await?;
        let above = table
            .xp
            .iter()
            .filter(|(id, xp)| *id != learner && *xp > mine)
            .count() as u64;
        let others = table
            .xp
            .iter()
            .filter(|(id, xp)| *id != learner && *xp > 0)
            .count() as u64;
        let rank = above + 1;
        let learners = others + 1;
        let (level, floor, next) = level_of(mine);
        Ok(XpView {
            total: mine,
            level,
            level_floor: floor,
            next_level_at: next,
            rank,
            learners,
            top_percent: top_percent(rank, learners),
        })
    }

    /// Every learner's XP: from the cache while fresh, else computed and stored.
    async fn rank_table(&self) -> Result<RankTable> {
        let cached = !self.config.rank_ttl.is_zero();
        if cached
            && let Ok(Some(bytes)) = self.cache.get(RANK_KEY).await
            && let Ok(t) = serde_json::from_slice::<RankTable>(&bytes)
        {
            return Ok(t);
        }
        let table = RankTable {
            xp: xp_totals(&agg::xp_counts_all(&self.db).await?)
                .into_iter()
                .collect(),
        };
        if cached
            && let Ok(bytes) = serde_json::to_vec(&table)
            && let Err(e) = self.cache.set(RANK_KEY, &bytes, self.config.rank_ttl).await
        {
            tracing::warn!(error = %e, "progress: rank table not cached");
        }
        Ok(table)
    }

    async fn streak(&self, learner: Uuid, today: i64) -> Result<StreakView> {
        let days = agg::activity_days(&self.db, learner, ALGIERS_OFFSET_MS).await?;
        let (current, longest) = streaks(&days, today);
        Ok(StreakView {
            current,
            longest,
            active_today: days.last() == Some(&today),
            last_day: days.last().map(|d| date_of(*d)),
        })
    }

    async fn reviews(&self, learner: Uuid, now: i64, today: i64) -> Result<ReviewsView> {
        let due_now = agg::due_count(&self.db, learner, now).await?;
        let per_day = agg::due_per_day(
            &self.db,
            learner,
            ALGIERS_OFFSET_MS,
            day_start_ms(today + FORECAST_DAYS),
        )
        .await?;
        let forecast = (today..today + FORECAST_DAYS)
            .map(|d| DueDay {
                date: date_of(d),
                due: per_day
                    .iter()
                    .filter(|(day, _)| *day == d || (d == today && *day < today))
                    .map(|(_, n)| *n)
                    .sum(),
            })
            .collect();
        Ok(ReviewsView { due_now, forecast })
    }
}

/// An approved item's IRT parameters.
#[derive(Debug, Clone, Copy)]
struct ItemParamsRow {
    item_id: Uuid,
    params: ItemParams,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn xp_matches_the_table_of_domain_3_5() {
        use Difficulty::{Easy, Hard, Medium};
        use ItemKind::{Qcm, Qcs, Qroc};
        let table = [(Qcm, [5, 8, 17]), (Qcs, [4, 7, 14]), (Qroc, [6, 9, 20])];
        for (kind, xs) in table {
            for (d, want) in [Easy, Medium, Hard].into_iter().zip(xs) {
                assert_eq!(xp_for(kind, d), want, "{kind:?} {d:?}");
            }
        }
    }

    #[test]
    fn levels_and_top_percent() {
        assert_eq!(level_of(0), (1, 0, Some(100)));
        assert_eq!(level_of(99), (1, 0, Some(100)));
        assert_eq!(level_of(100), (2, 100, Some(250)));
        assert_eq!(level_of(6999), (10, 5000, Some(7000)));
        assert_eq!(level_of(90_000), (11, 7000, None));
        assert_eq!(top_percent(1, 1000), 1);
        assert_eq!(top_percent(1, 1), 99);
        assert_eq!(top_percent(3, 10), 30);
        assert_eq!(top_percent(31, 100), 31);
    }

    #[test]
    fn streaks_end_today_or_yesterday() {
        assert_eq!(streaks(&[], 10), (0, 0));
        assert_eq!(streaks(&[8, 9, 10], 10), (3, 3));
        assert_eq!(streaks(&[8, 9], 10), (2, 2), "yesterday keeps it alive");
        assert_eq!(streaks(&[7, 8], 10), (0, 2), "a missed day breaks it");
        assert_eq!(streaks(&[1, 2, 3, 4, 6, 9, 10], 10), (2, 4));
    }

    #[test]
    fn mastery_band_narrows_with_evidence() {
        let none = mastery_sd(0.2, 0);
        assert!((none - (1.0_f64 / 12.0).sqrt()).abs() < 1e-12, "{none}");
        let some = mastery_sd(0.7, 14);
        assert!((some - 0.1136).abs() < 1e-3, "{some}");
        assert!(mastery_sd(0.7, 100) < some);
    }

    #[test]
    fn expected_score_brackets_the_point_and_grows_with_theta() {
        let items = vec![
            (ItemParams::two_pl(1.0, -1.0).unwrap(), 0.5),
            (ItemParams::two_pl(1.0, 1.0).unwrap(), 0.5),
        ];
        let mid = expected_score(&Ability::default(), &items).unwrap();
        assert!((mid.value - 0.5).abs() < 1e-6, "symmetric: {mid:?}");
        assert!(mid.low < 0.2 && mid.high > 0.8, "{mid:?}");
        let strong = Ability {
            theta: 2.0,
            se: 0.3,
            answers: 40,
        };
        let s = expected_score(&strong, &items).unwrap();
        assert!(
            s.value > 0.75 && s.high - s.low < mid.high - mid.low,
            "{s:?}"
        );
        assert!(expected_score(&strong, &[]).is_none());
    }

    #[test]
    fn item_weights_follow_the_kc_shares() {
        let (i1, i2, i3) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let (k1, k2, k3) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let tags = vec![(i1, k1, 1.0), (i2, k2, 1.0), (i3, k2, 1.0)];
        // k3 has no items: the weights renormalise over k1 and k2.
        let w = item_weights(&[i1, i2, i3], &[(k1, 0.2), (k2, 0.6), (k3, 0.2)], &tags);
        assert!((w[&i1] - 0.25).abs() < 1e-12);
        assert!((w[&i2] - 0.375).abs() < 1e-12);
        assert!((w[&i3] - 0.375).abs() < 1e-12);
        let u = item_weights(&[i1, i2], &[], &tags);
        assert!((u[&i1] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn days_are_algiers_days() {
        // 2026-12-01 23:30 UTC is 00:30 on 2 December in Algiers.
        let ms = chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(23, 30, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis();
        assert_eq!(date_of(local_day(ms)), "2026-12-02");
        assert_eq!(
            day_start_ms(local_day(ms)) + ALGIERS_OFFSET_MS,
            local_day(ms) * DAY_MS
        );
    }
}
