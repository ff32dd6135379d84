//! Training use cases: the learner profile (onboarding), learning modes, training sessions
//! (create, resume, answer, skip, flag, note, pause, resume, finish, summary, replay) and the
//! expiry of abandoned sessions. Each public method is one transaction; authorisation and
//! ownership are decided here (another learner's session is "not found").
//!
//! # The answer transaction
//! One write transaction, few statements, all indexed: lock the session (PostgreSQL
//! `FOR UPDATE`; SQLite takes the write lock first), read its served items, move the answered
//! item from `served` to `answered` (the exactly-once gate), store the attempt, read and write
//! the learner state (ability of the item's subject, KC masteries, the item's memory) and
//! consume the allowance — only for a graded answer —, then serve the next item (or end the
//! session) and save the session. The candidate pool and the rendered revisions come from
//! in-process caches. A repeated submission finds the item already answered and gets the
//! stored result.
//!
//! # Disclosure
//! A served item never carries its key, QROC answer or explanations, and a clinical case only
//! shows its scenario and the sub-item being answered. Feedback is built from the stored
//! attempt; exam sessions hold it back until the session is over.

pub mod builder;
pub mod content;
pub mod pool;
pub mod privacy;
pub mod progress;
pub mod views;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use moka::sync::Cache;
use myqcm_db::catalogue::{self as catalogue_repo, begin_write};
use myqcm_db::training::{
    self as repo, attempt, learner_ability, learner_kc, learner_memory, learner_profile,
    session_item, training_session,
};
use myqcm_db::{DatabaseConnection, DatabaseTransaction, DbError, WriteBatch};
use myqcm_domain::Clock;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::catalogue::{ContentError, ItemKind, Locale};
use myqcm_domain::entitlements::{
    EntitlementError, Entitlements, Exhaustion, Feature, OpenEntitlements,
};
use myqcm_domain::learning::{self, Ability, KcState, LearningError, Memory};
use myqcm_domain::permissions::Action;
use myqcm_domain::scoring::{self, Outcome, Response, ResponseError, RuleSet, UngradedReason};
use myqcm_domain::training::{
    Definers, EndReason, LearnerSummary, Reason, SessionParams, SessionRequest, Status, Style,
    resolve, validate_request,
};
use myqcm_psychometrics::bkt::BktParams;
use myqcm_psychometrics::memory::MemoryModel;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use uuid::Uuid;

use content::{ContentCache, Revision};
use pool::{BuildInput, Filters, Pool};
use views::{
    AnswerInput, AnswerOutcome, CaseContext, EndView, ExpectedAnswer, Feedback, GradeView,
    KcBreakdown, ModeInput, ModeView, NewSessionInput, Next, OptionFeedback, ProfileInput,
    ProfileView, ReasonView, ReviewedItem, ServedItemView, ServedOption, SessionListRow,
    SessionView, SummaryView, Widening,
};

/// Why a training request failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// Unknown, or not the caller's (the same answer, so existence does not leak).
    #[error("not found")]
    NotFound,
    /// The caller lacks the permission.
    #[error("forbidden")]
    Forbidden,
    /// Invalid input, field by field.
    #[error("invalid input")]
    Invalid(Vec<ContentError>),
    /// The session is over (completed or expired).
    #[error("the session is over")]
    SessionClosed,
    /// The session is paused: resume it first.
    #[error("the session is paused")]
    SessionPaused,
    /// The named served item is not the one waiting for an answer (it was skipped).
    #[error("this item is not waiting for an answer")]
    NotCurrent,
    /// The exam time ran out; the session has been ended.
    #[error("the exam time is over")]
    TimeUp,
    /// Full mock exams cannot be paused.
    #[error("a full mock exam cannot be paused")]
    NoPause,
    /// The plan's allowance for this feature is used up (and when it resets).
    #[error("allowance exhausted")]
    QuotaExhausted(Exhaustion),
    /// Nothing matches the filters; these wider filters would help.
    #[error("nothing to serve under these filters")]
    NothingToServe(Vec<Widening>),
    /// Storage or model failure (logged, never shown).
    #[error("storage: {0}")]
    Store(String),
    /// The database cannot be reached right now (answered 503; retry shortly).
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl From<DbError> for TrainingError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Self::NotFound,
            DbError::Unavailable(m) => Self::Unavailable(m),
            other => Self::Store(other.to_string()),
        }
    }
}

impl From<sea_orm::DbErr> for TrainingError {
    fn from(e: sea_orm::DbErr) -> Self {
        match DbError::from(e) {
            DbError::Unavailable(m) => Self::Unavailable(m),
            other => Self::Store(other.to_string()),
        }
    }
}

impl From<LearningError> for TrainingError {
    fn from(e: LearningError) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<EntitlementError> for TrainingError {
    fn from(e: EntitlementError) -> Self {
        match e {
            EntitlementError::Exhausted(x) => Self::QuotaExhausted(x),
            EntitlementError::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

/// Result alias.
pub type Result<T, E = TrainingError> = std::result::Result<T, E>;

fn invalid(field: &str, code: &'static str, message: &str) -> TrainingError {
    TrainingError::Invalid(vec![ContentError::new(field, code, message)])
}

fn response_error(e: ResponseError) -> TrainingError {
    let field = match e {
        ResponseError::WrongShape { .. } | ResponseError::TooLong => "text",
        _ => "options",
    };
    invalid(field, "invalid_answer", &e.to_string())
}

/// The entitlement port as the services use it (joined to the database transaction).
pub type EntitlementsPort = Arc<dyn Entitlements<Tx = DatabaseTransaction>>;

/// A late grader's explanation of its grade (the language model's rationale of a QROC
/// grade), stored beside the grade by [`Training::apply_late_grade`] in its transaction.
#[derive(Debug, Clone, Copy)]
pub struct GradeNote<'a> {
    /// The explanation (for reviewers only).
    pub rationale: &'a str,
    /// The model that gave it.
    pub model: &'a str,
    /// When, epoch ms.
    pub at_ms: i64,
}

/// Settings of the training use cases.
#[derive(Debug, Clone)]
pub struct TrainingConfig {
    /// How long a session's candidate pool stays cached.
    pub pool_ttl: Duration,
    /// Open sessions idle this long are closed by the expiry job.
    pub idle_expiry: Duration,
    /// Target recall probability of the memory model.
    pub desired_retention: f64,
    /// Answering time recorded at most (longer gaps are a learner who walked away).
    pub max_item_time: Duration,
    /// Revisions kept parsed and rendered in memory.
    pub revision_cache: u64,
}

impl Default for TrainingConfig {
    /// Pool TTL 5 min, expiry after 7 idle days, retention 0.9, 30 min per item, 20,000
    /// revisions.
    fn default() -> Self {
        Self {
            pool_ttl: Duration::from_secs(300),
            idle_expiry: Duration::from_secs(7 * 24 * 3600),
            desired_retention: 0.9,
            max_item_time: Duration::from_secs(1800),
            revision_cache: 20_000,
        }
    }
}

/// The job kind of the expiry of abandoned sessions (run by a recurring schedule).
pub const EXPIRE_JOB: &str = "training.expire_abandoned";

/// Metrics of the answer path (Prometheus, on the private metrics listener).
pub mod metric {
    /// Answers stored or repeated, by `outcome` (`correct`, `incorrect`, `ungraded`, `repeat`);
    /// answers per second by outcome is its rate.
    pub const ANSWERS: &str = "myqcm_answers_total";
    /// Time spent grading one answer (seconds).
    pub const GRADING: &str = "myqcm_grading_seconds";
    /// Time spent choosing the next unit over the candidate pool (seconds).
    pub const SELECTION: &str = "myqcm_selection_seconds";

    pub(crate) fn answered(outcome: &'static str) {
        metrics::counter!(ANSWERS, "outcome" => outcome).increment(1);
    }
}

/// The training use cases with their dependencies. Cheap to clone.
#[derive(Clone)]
pub struct Training {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    entitlements: EntitlementsPort,
    config: Arc<TrainingConfig>,
    memory: Arc<MemoryModel>,
    content: ContentCache,
    /// Candidate pools by session; each knows the parameter set it was built under, and one
    /// built under a set no longer in use is replaced (an answer or skip compares it with the
    /// set its transaction reads).
    pools: Cache<Uuid, Arc<Pool>>,
    gate: Arc<tokio::sync::Mutex<()>>,
    /// Unsure QROC answers wait for the language model (`ai.grade_qroc`) instead of scoring 0.
    llm_grading: bool,
}

impl std::fmt::Debug for Training {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Training")
            .field("config", &self.config)
            .field("pools", &self.pools.entry_count())
            .finish_non_exhaustive()
    }
}

fn require(actor: &Actor, action: Action) -> Result<()> {
    if actor.can(action) {
        Ok(())
    } else {
        Err(TrainingError::Forbidden)
    }
}

/// An answer as the write path takes it (the response already checked for shape).
struct Answer {
    served_id: Uuid,
    response: Response,
}

/// The result of one try of a write that reads a cached pool: done, or nothing written because
/// the pool was built under a parameter set no longer in use (the caller tries again).
enum Fresh<T> {
    Done(T),
    Stale,
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| TrainingError::Store(e.to_string()))
}

fn parse_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| TrainingError::Store(format!("stored JSON: {e}")))
}

fn parse<T: std::str::FromStr>(s: &str) -> Result<T> {
    s.parse()
        .map_err(|_| TrainingError::Store(format!("unexpected stored value {s:?}")))
}

/// A per-step generator: reproducible from the session seed, the position and a stream.
fn step_rng(seed: i64, position: i32, stream: u64) -> StdRng {
    let mix = (seed as u64)
        ^ (u64::from(position as u32)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ stream.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    StdRng::seed_from_u64(mix)
}

/// Loaded learner state, keyed for the answer and the next choice.
struct State {
    abilities: HashMap<Uuid, Ability>,
    kcs: HashMap<Uuid, KcState>,
}

impl State {
    /// The learner's abilities and KC states, and the memory of `item` when given, in one
    /// statement (see [`repo::learner_state`]).
    async fn load<C: ConnectionTrait>(
        c: &C,
        learner: Uuid,
        item: Option<Uuid>,
    ) -> Result<(Self, Option<learner_memory::Model>)> {
        let rows = repo::learner_state(c, learner, item).await?;
        let abilities = rows
            .abilities
            .into_iter()
            .map(|a| {
                (
                    a.subject_id,
                    Ability {
                        theta: a.theta,
                        se: a.se,
                        answers: u32::try_from(a.answers).unwrap_or(0),
                    },
                )
            })
            .collect();
        let kcs = rows
            .kcs
            .into_iter()
            .map(|k| {
                (
                    k.kc_id,
                    KcState {
                        mastery: k.mastery,
                        evidence: u32::try_from(k.evidence).unwrap_or(0),
                    },
                )
            })
            .collect();
        Ok((Self { abilities, kcs }, rows.memory))
    }

    fn ability(&self, subject: Uuid) -> Ability {
        self.abilities.get(&subject).copied().unwrap_or_default()
    }
}

/// What comes after the current step.
enum Step {
    Serve {
        unit: usize,
        index: usize,
        reason: Reason,
    },
    End(EndReason),
}

impl Training {
    /// The use cases over `db`, with the given clock, entitlements and settings.
    ///
    /// # Errors
    /// [`TrainingError::Store`] if the memory model rejects the retention.
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        entitlements: EntitlementsPort,
        config: TrainingConfig,
    ) -> Result<Self> {
        let memory = MemoryModel::new(&[], config.desired_retention)
            .map_err(|e| TrainingError::Store(e.to_string()))?;
        Ok(Self {
            db,
            clock,
            entitlements,
            content: ContentCache::new(config.revision_cache),
            pools: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(config.pool_ttl)
                .build(),
            memory: Arc::new(memory),
            config: Arc::new(config),
            gate: Arc::new(tokio::sync::Mutex::new(())),
            llm_grading: false,
        })
    }

    /// The same use cases with QROC grading assistance on or off: with it on, an answer the
    /// tolerant match is unsure about is stored ungraded (`awaiting_grader`) and the
    /// `ai.grade_qroc` job is queued in the answer's transaction (`crate::ai::grading`).
    #[must_use]
    pub fn with_llm_grading(mut self, on: bool) -> Self {
        self.llm_grading = on;
        self
    }

    /// The use cases with the open entitlements (everything allowed) and default settings.
    ///
    /// # Errors
    /// As [`Training::new`].
    pub fn open(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Result<Self> {
        Self::new(
            db,
            clock,
            Arc::new(OpenEntitlements::<DatabaseTransaction>::new()),
            TrainingConfig::default(),
        )
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// On SQLite, write transactions of this process queue here before `BEGIN IMMEDIATE`:
    /// SQLite has one writer anyway, and a writer waiting on its busy handler polls with
    /// sleeps of up to 100 ms, which under load leaves the lock idle and the tail long. An
    /// async mutex hands the turn over at once, in arrival order. PostgreSQL writers of
    /// different learners do not conflict, so they are not gated.
    async fn write_gate(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
            Some(self.gate.lock().await)
        } else {
            None
        }
    }

    // ------------------------------------------------------------ profile

    /// The caller's profile (defaults before onboarding).
    pub async fn profile(&self, actor: &Actor) -> Result<ProfileView> {
        require(actor, Action::Train)?;
        Ok(profile_view(repo::profile(&self.db, actor.id).await?))
    }

    /// Sets the caller's faculty (and so university) by code from the list, keeping the rest
    /// of the profile; an empty code clears both. An unknown code is refused on `faculty`.
    pub async fn set_faculty(&self, actor: &Actor, code: &str) -> Result<ProfileView> {
        require(actor, Action::Train)?;
        let code = code.trim();
        let fac = if code.is_empty() {
            None
        } else {
            Some(
                catalogue_repo::faculty_by_code(&self.db, code)
                    .await?
                    .ok_or_else(|| invalid("faculty", "unknown", "Unknown faculty."))?,
            )
        };
        let now = self.now_ms();
        let mut m =
            repo::profile(&self.db, actor.id)
                .await?
                .unwrap_or_else(|| learner_profile::Model {
                    learner_id: actor.id,
                    university_id: None,
                    faculty_id: None,
                    year_of_study: None,
                    exam_date: None,
                    daily_minutes: None,
                    mode: "guided".into(),
                    created_at: now,
                    updated_at: now,
                });
        m.faculty_id = fac.as_ref().map(|f| f.id);
        m.university_id = fac.as_ref().map(|f| f.university_id);
        m.updated_at = now;
        Ok(profile_view(Some(repo::put_profile(&self.db, m).await?)))
    }

    /// Sets the caller's profile (onboarding, settings).
    pub async fn set_profile(&self, actor: &Actor, input: ProfileInput) -> Result<ProfileView> {
        require(actor, Action::Train)?;
        let mut input = input;
        let mut errs = Vec::new();
        if let Some(code) = input
            .faculty
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            match catalogue_repo::faculty_by_code(&self.db, code).await? {
                Some(f) => {
                    input.faculty_id = Some(f.id);
                    input.university_id = Some(f.university_id);
                }
                None => errs.push(ContentError::new("faculty", "unknown", "Unknown faculty.")),
            }
        }
        if !(1..=7).contains(&input.year_of_study) {
            errs.push(ContentError::new(
                "year_of_study",
                "out_of_range",
                "Between 1 and 7.",
            ));
        }
        if let Some(m) = input.daily_minutes
            && !(5..=600).contains(&m)
        {
            errs.push(ContentError::new(
                "daily_minutes",
                "out_of_range",
                "Between 5 and 600 minutes.",
            ));
        }
        if let Some(d) = &input.exam_date {
            match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                Ok(date) if date >= self.clock.now().date_naive() => {}
                Ok(_) => errs.push(ContentError::new(
                    "exam_date",
                    "in_the_past",
                    "The exam date is in the past.",
                )),
                Err(_) => errs.push(ContentError::new(
                    "exam_date",
                    "invalid",
                    "A date written YYYY-MM-DD.",
                )),
            }
        }
        let mode = input.mode.clone().unwrap_or_else(|| "guided".into());
        if repo::mode(&self.db, &mode).await?.is_none() {
            errs.push(ContentError::new(
                "mode",
                "unknown",
                "Unknown learning mode.",
            ));
        }
        if let Some(f) = input.faculty_id {
            match catalogue_repo::faculty::Entity::find_by_id(f)
                .one(&self.db)
                .await?
            {
                None => errs.push(ContentError::new(
                    "faculty_id",
                    "unknown",
                    "Unknown faculty.",
                )),
                Some(fac) if input.university_id.is_some_and(|u| u != fac.university_id) => {
                    errs.push(ContentError::new(
                        "faculty_id",
                        "wrong_university",
                        "This faculty belongs to another university.",
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(u) = input.university_id
            && catalogue_repo::university::Entity::find_by_id(u)
                .one(&self.db)
                .await?
                .is_none()
        {
            errs.push(ContentError::new(
                "university_id",
                "unknown",
                "Unknown university.",
            ));
        }
        if !errs.is_empty() {
            return Err(TrainingError::Invalid(errs));
        }
        let now = self.now_ms();
        let created = repo::profile(&self.db, actor.id)
            .await?
            .map_or(now, |p| p.created_at);
        let university = match (input.university_id, input.faculty_id) {
            (None, Some(f)) => catalogue_repo::faculty::Entity::find_by_id(f)
                .one(&self.db)
                .await?
                .map(|f| f.university_id),
            (u, _) => u,
        };
        let saved = repo::put_profile(
            &self.db,
            learner_profile::Model {
                learner_id: actor.id,
                university_id: university,
                faculty_id: input.faculty_id,
                year_of_study: Some(input.year_of_study),
                exam_date: input.exam_date,
                daily_minutes: input.daily_minutes,
                mode,
                created_at: created,
                updated_at: now,
            },
        )
        .await?;
        Ok(profile_view(Some(saved)))
    }

    // ------------------------------------------------------------ modes

    /// The learning modes.
    pub async fn modes(&self) -> Result<Vec<ModeView>> {
        repo::modes(&self.db)
            .await?
            .into_iter()
            .map(|m| {
                Ok(ModeView {
                    names: parse_json(&m.names)?,
                    definers: parse_json(&m.definers)?,
                    code: m.code,
                    sort_order: m.sort_order,
                })
            })
            .collect()
    }

    /// Creates or edits a learning mode (content admins).
    pub async fn set_mode(&self, actor: &Actor, code: &str, input: ModeInput) -> Result<ModeView> {
        require(actor, Action::CatalogueManage)?;
        let code = code.trim();
        if code.is_empty()
            || code.len() > 32
            || !code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                "code",
                "invalid",
                "1 to 32 characters among a-z, 0-9, - and _.",
            ));
        }
        input.definers.validate().map_err(TrainingError::Invalid)?;
        if !input.names.is_object() {
            return Err(invalid(
                "names",
                "invalid",
                "An object of names per locale.",
            ));
        }
        let m = repo::put_mode(
            &self.db,
            repo::learning_mode::Model {
                code: code.to_owned(),
                names: json(&input.names)?,
                definers: json(&input.definers)?,
                sort_order: input.sort_order,
                updated_at: self.now_ms(),
                updated_by: Some(actor.id),
            },
        )
        .await?;
        Ok(ModeView {
            code: m.code,
            names: input.names,
            definers: input.definers,
            sort_order: m.sort_order,
        })
    }

    // ------------------------------------------------------------ sessions

    /// Starts a session and serves its first item.
    pub async fn create_session(
        &self,
        actor: &Actor,
        input: NewSessionInput,
    ) -> Result<SessionView> {
        require(actor, Action::Train)?;
        let style = input.style;
        let mut request = input.request;
        validate_request(style, &request).map_err(TrainingError::Invalid)?;
        let learner = actor.id;
        if !self.allowed(learner, Feature::ClinicalCases).await? {
            request.without_cases = true;
        }
        let now = self.now_ms();
        let profile = repo::profile(&self.db, learner).await?;
        let mode_code = input
            .mode
            .or_else(|| profile.as_ref().map(|p| p.mode.clone()))
            .unwrap_or_else(|| "guided".into());
        let mode = repo::mode(&self.db, &mode_code)
            .await?
            .ok_or_else(|| invalid("mode", "unknown", "Unknown learning mode."))?;
        let definers: Definers = parse_json(&mode.definers)?;
        let subject = if style == Style::Review {
            if profile.as_ref().and_then(|p| p.year_of_study).is_none() {
                return Err(invalid(
                    "profile",
                    "required",
                    "Set your year of study before a review session.",
                ));
            }
            None
        } else {
            Some(self.check_filters(&request).await?)
        };
        let summary = self.learner_summary(learner, subject).await?;
        let mut params = resolve(&definers, style, &request, &summary);
        let id = Uuid::now_v7();
        let mut session = training_session::Model {
            id,
            learner_id: learner,
            subject_id: subject,
            mode: mode.code,
            style: style.as_str().into(),
            status: Status::Active.as_str().into(),
            end_reason: None,
            request: json(&request)?,
            params: json(&params)?,
            rules: json(&RuleSet::default())?,
            rule_version: RuleSet::default().version,
            seed: Uuid::new_v4().as_u64_pair().0 as i64,
            item_count: i32::try_from(params.item_count).unwrap_or(i32::MAX),
            served: 0,
            deadline_at: params.time_limit_seconds.map(|s| now + i64::from(s) * 1000),
            paused_at: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        let mut pool = Pool::build(
            &self.db,
            &BuildInput {
                session: &session,
                request: &request,
                params: &params,
                profile: profile.as_ref(),
                memory_model: &self.memory,
                now_ms: now,
            },
        )
        .await?;
        if pool.eligible_len() == 0 && params.engine_kinds {
            params.kinds = ItemKind::ALL.to_vec();
            params.engine_kinds = false;
            pool.apply(Filters::of(&request, &params));
            session.params = json(&params)?;
        }
        if pool.eligible_len() == 0 {
            return Err(TrainingError::NothingToServe(
                pool.widenings(&HashSet::new()),
            ));
        }
        let pool = Arc::new(pool);
        let _gate = self.write_gate().await;
        let txn = begin_write(&self.db).await?;
        let session = repo::insert_session(&txn, session).await?;
        let (state, _) = State::load(&txn, learner, None).await?;
        let mut batch = WriteBatch::new(self.db.get_database_backend());
        let (session, next) = self
            .advance(&txn, &mut batch, session, &[], Some(&pool), &state)
            .await?;
        batch.run(&txn).await?;
        txn.commit().await?;
        self.pools.insert(id, pool);
        let current = match next {
            Next::Item(v) => Some(*v),
            Next::End(_) => None,
        };
        Ok(self.session_view(&session, current, None))
    }

    /// Checks the subject, courses and KCs of a request; returns the subject.
    async fn check_filters(&self, r: &SessionRequest) -> Result<Uuid> {
        let subject = r
            .subject
            .ok_or_else(|| invalid("subject", "required", "Choose a subject."))?;
        if catalogue_repo::subject::Entity::find_by_id(subject)
            .one(&self.db)
            .await?
            .is_none()
        {
            return Err(invalid("subject", "unknown", "Unknown subject."));
        }
        let mut errs = Vec::new();
        for (i, c) in r.courses.iter().enumerate() {
            match catalogue_repo::course_by_id(&self.db, *c).await? {
                Some(course) if course.subject_id == subject => {}
                _ => errs.push(ContentError::new(
                    format!("courses[{i}]"),
                    "unknown",
                    "Not a course of this subject.",
                )),
            }
        }
        if !r.kcs.is_empty() {
            let tree = catalogue_repo::kc_tree(&self.db, subject).await?;
            for (i, k) in r.kcs.iter().enumerate() {
                if !tree.iter().any(|n| n.id == *k && n.level == "kc") {
                    errs.push(ContentError::new(
                        format!("kcs[{i}]"),
                        "unknown",
                        "Not a knowledge component of this subject.",
                    ));
                }
            }
        }
        if errs.is_empty() {
            Ok(subject)
        } else {
            Err(TrainingError::Invalid(errs))
        }
    }

    /// θ̂ in the subject and the mean mastery over its KCs (p_init where never met).
    async fn learner_summary(
        &self,
        learner: Uuid,
        subject: Option<Uuid>,
    ) -> Result<LearnerSummary> {
        let Some(subject) = subject else {
            return Ok(LearnerSummary {
                mean_mastery: BktParams::default().p_init(),
                theta: 0.0,
            });
        };
        let theta = repo::ability(&self.db, learner, subject, false)
            .await?
            .map_or(0.0, |a| a.theta);
        let kcs: Vec<Uuid> = catalogue_repo::kc_tree(&self.db, subject)
            .await?
            .into_iter()
            .filter(|n| n.level == "kc")
            .map(|n| n.id)
            .collect();
        let known: HashMap<Uuid, f64> = repo::kc_states(&self.db, learner, &kcs, false)
            .await?
            .into_iter()
            .map(|k| (k.kc_id, k.mastery))
            .collect();
        let p_init = BktParams::default().p_init();
        let mean_mastery = if kcs.is_empty() {
            p_init
        } else {
            kcs.iter()
                .map(|k| known.get(k).copied().unwrap_or(p_init))
                .sum::<f64>()
                / kcs.len() as f64
        };
        Ok(LearnerSummary {
            mean_mastery,
            theta,
        })
    }

    /// The pool of an open session under the set in use: cached, else built.
    async fn pool_for(&self, session: &training_session::Model) -> Result<Arc<Pool>> {
        let set = repo::active_parameter_set(&self.db).await?;
        if let Some(p) = self.pools.get(&session.id)
            && p.parameter_set == set
        {
            return Ok(p);
        }
        let pool = Arc::new(self.build_pool(session).await?);
        self.pools.insert(session.id, pool.clone());
        Ok(pool)
    }

    /// Builds the pool of a session (not cached).
    async fn build_pool(&self, session: &training_session::Model) -> Result<Pool> {
        let request: SessionRequest = parse_json(&session.request)?;
        let params: SessionParams = parse_json(&session.params)?;
        let profile = repo::profile(&self.db, session.learner_id).await?;
        Pool::build(
            &self.db,
            &BuildInput {
                session,
                request: &request,
                params: &params,
                profile: profile.as_ref(),
                memory_model: &self.memory,
                now_ms: self.now_ms(),
            },
        )
        .await
    }

    /// The pool for a write on session `id`, when the session is open (cached or built before
    /// the write transaction starts, so SQLite's write lock is never held while building).
    /// A cached pool is returned whatever set it was built under: the write's transaction
    /// reads the set in use with the session ([`repo::session_with_items`]) and, when they
    /// differ (a publish since the pool was built), drops the pool and starts again
    /// ([`Self::stale`]), so an answer after a publish is served under the new set without a
    /// query of its own on every answer.
    async fn pool_before_write(&self, learner: Uuid, id: Uuid) -> Result<Option<Arc<Pool>>> {
        if let Some(p) = self.pools.get(&id) {
            return Ok(Some(p));
        }
        let session = repo::session_of(&self.db, id, learner, false)
            .await?
            .ok_or(TrainingError::NotFound)?;
        if parse::<Status>(&session.status)?.is_open() {
            Ok(Some(self.pool_for(&session).await?))
        } else {
            Ok(None)
        }
    }

    /// Reads a session as its learner sees it (resume). Read-only: an exam whose time ran out
    /// is shown with `time_up` and ended by the next action.
    pub async fn session(&self, actor: &Actor, id: Uuid) -> Result<SessionView> {
        require(actor, Action::Train)?;
        let s = repo::session_of(&self.db, id, actor.id, false)
            .await?
            .ok_or(TrainingError::NotFound)?;
        let current = match repo::current_item(&self.db, id).await? {
            Some(item) => Some(self.served_view(&self.db, &s, &item).await?),
            None => None,
        };
        let end = match s.end_reason.as_deref() {
            Some(reason) => Some(EndView {
                reason: reason.into(),
                // The ended session's pool left the cache; it is built again (not cached)
                // for the filters that would widen it.
                widen: if reason == EndReason::PoolExhausted.as_str() {
                    let pool = self.build_pool(&s).await?;
                    let items = repo::session_items(&self.db, id).await?;
                    pool.widenings(&served_units(&pool, &items).into_iter().collect())
                } else {
                    vec![]
                },
            }),
            None => None,
        };
        Ok(self.session_view(&s, current, end))
    }

    /// The caller's sessions, newest first (`before`: created strictly earlier).
    pub async fn sessions(
        &self,
        actor: &Actor,
        before: Option<DateTime<Utc>>,
        limit: u64,
    ) -> Result<Vec<SessionListRow>> {
        require(actor, Action::Train)?;
        Ok(repo::sessions_of(
            &self.db,
            actor.id,
            before.map(|b| b.timestamp_millis()),
            limit.clamp(1, 100),
        )
        .await?
        .into_iter()
        .map(|s| SessionListRow {
            id: s.id,
            mode: s.mode,
            style: s.style,
            status: s.status,
            end_reason: s.end_reason,
            subject_id: s.subject_id,
            served: s.served,
            item_count: s.item_count,
            created_at: from_ms(s.created_at),
        })
        .collect())
    }

    /// Stores the answer to the item currently served, updates the learner state and serves
    /// the next item — exactly once per served item (module documentation).
    pub async fn answer(
        &self,
        actor: &Actor,
        id: Uuid,
        input: AnswerInput,
    ) -> Result<AnswerOutcome> {
        require(actor, Action::Train)?;
        let response = match (input.options, input.text) {
            (Some(o), None) => Response::Options(o),
            (None, Some(t)) => Response::Text(t),
            _ => {
                return Err(invalid(
                    "options",
                    "required",
                    "Send either options or text.",
                ));
            }
        };
        let input = Answer {
            served_id: input.served_id,
            response,
        };
        match self.answer_once(actor.id, id, &input).await? {
            Fresh::Done(outcome) => Ok(outcome),
            Fresh::Stale => match self.answer_once(actor.id, id, &input).await? {
                Fresh::Done(outcome) => Ok(outcome),
                Fresh::Stale => Err(TrainingError::Store(
                    "the parameter set changed twice during one answer".into(),
                )),
            },
        }
    }

    /// One try of [`Self::answer`]: [`Fresh::Stale`] (nothing written) when the cached pool
    /// was built under a parameter set no longer in use.
    async fn answer_once(
        &self,
        learner: Uuid,
        id: Uuid,
        input: &Answer,
    ) -> Result<Fresh<AnswerOutcome>> {
        let response = &input.response;
        let pool = self.pool_before_write(learner, id).await?;
        let _gate = self.write_gate().await;
        let txn = begin_write(&self.db).await?;
        let rows = repo::session_with_items(&txn, id, learner, true)
            .await?
            .ok_or(TrainingError::NotFound)?;
        if self.stale(id, pool.as_deref(), rows.active_set) {
            return Ok(Fresh::Stale);
        }
        let (session, mut items) = (rows.session, rows.items);
        let target = items
            .iter()
            .find(|i| i.id == input.served_id)
            .cloned()
            .ok_or(TrainingError::NotFound)?;
        match target.state.as_str() {
            "answered" => {
                let stored = repo::attempt_for(&txn, target.id)
                    .await?
                    .ok_or(TrainingError::NotFound)?;
                txn.commit().await?;
                metric::answered("repeat");
                return self
                    .repeat(&session, &target, &stored)
                    .await
                    .map(Fresh::Done);
            }
            "skipped" => return Err(TrainingError::NotCurrent),
            _ => {}
        }
        if let Some(e) = self.refuse_write(&txn, &session).await? {
            txn.commit().await?;
            return Err(e);
        }
        let rev = self.content.revision(&txn, target.revision_id).await?;
        let rules: RuleSet = parse_json(&session.rules)?;
        let graded_at = std::time::Instant::now();
        let outcome = scoring::grade(&rules, &rev.content, response).map_err(response_error)?;
        let outcome = self
            .second_grader(&txn, learner, outcome, &rev.content, response)
            .await?;
        metrics::histogram!(metric::GRADING).record(graded_at.elapsed().as_secs_f64());
        let feature = Feature::answer_of(rev.content.kind);
        if outcome.correct().is_some() {
            self.entitlements.require(&txn, learner, feature, 1).await?;
        }
        let now = self.now_ms();
        let time_spent = (now - target.served_at).clamp(
            0,
            i64::try_from(self.config.max_item_time.as_millis()).unwrap_or(i64::MAX),
        );
        let mut batch = WriteBatch::new(self.db.get_database_backend());
        repo::queue_close_item(&mut batch, target.id, "answered", now);
        let stored = attempt::Model {
            id: Uuid::now_v7(),
            session_item_id: target.id,
            session_id: id,
            learner_id: learner,
            item_id: target.item_id,
            revision_id: target.revision_id,
            response: json(response)?,
            ratio: outcome.ratio(),
            correct: outcome.correct(),
            grader: match outcome {
                Outcome::Graded { grader, .. } => Some(grader.as_str().into()),
                Outcome::Ungraded { .. } => None,
            },
            ungraded_reason: match outcome {
                Outcome::Ungraded { reason } => Some(reason.as_str().into()),
                Outcome::Graded { .. } => None,
            },
            rule_version: rules.version.clone(),
            parameter_set_id: target.parameter_set_id,
            time_spent_ms: time_spent,
            created_at: now,
        };
        repo::queue_attempt(&mut batch, stored.clone());
        let graded = outcome.correct();
        let (mut state, memory) =
            State::load(&txn, learner, graded.map(|_| target.item_id)).await?;
        if let Some(correct) = graded {
            let model = self
                .item_model(&txn, &target, &rev, pool.as_deref())
                .await?;
            self.update_state(&mut batch, &target, model, &mut state, memory, correct)?;
            self.entitlements.consume(&txn, learner, feature, 1).await?;
        }
        if let Some(i) = items.iter_mut().find(|i| i.id == target.id) {
            i.state = "answered".into();
        }
        let (session, next) = self
            .advance(&txn, &mut batch, session, &items, pool.as_deref(), &state)
            .await?;
        if !batch.run(&txn).await? {
            // Another submission of this answer closed the item first: its result stands.
            drop(txn);
            let stored = repo::attempt_for(&self.db, target.id)
                .await?
                .ok_or(TrainingError::NotCurrent)?;
            metric::answered("repeat");
            return self
                .repeat(&session, &target, &stored)
                .await
                .map(Fresh::Done);
        }
        if matches!(
            outcome,
            Outcome::Ungraded {
                reason: UngradedReason::AwaitingGrader
            }
        ) {
            let job = crate::ai::grading::job(stored.id, from_ms(now));
            myqcm_db::jobs::enqueue(&txn, &job, from_ms(now)).await?;
        }
        txn.commit().await?;
        self.forget_pool_at_end(id, pool.as_deref(), &next);
        metric::answered(match outcome.correct() {
            Some(true) => "correct",
            Some(false) => "incorrect",
            None => "ungraded",
        });
        let style: Style = parse(&session.style)?;
        let (grade, feedback) = if style == Style::Exam {
            (None, None)
        } else {
            let explain = self.explanations_allowed(learner).await?;
            (
                Some(grade_view(&stored)),
                Some(feedback(&rev, &target, response, explain)?),
            )
        };
        Ok(Fresh::Done(AnswerOutcome {
            served_id: target.id,
            repeat: false,
            grade,
            feedback,
            next,
        }))
    }

    /// Applies a grade given after the answer to an attempt stored **awaiting the grader** (the
    /// language model's grade of a QROC answer the tolerant match was unsure about): the grade
    /// is written on the attempt and the learner's ability, KC masteries and item memory take
    /// the same online update an on-the-spot grade makes, from the state they have now, with
    /// the item's parameters of the set in use. One transaction, serialised with the session's
    /// answers (its row is locked on PostgreSQL; SQLite has one writer); it consumes no
    /// allowance (the answer was accepted when it was sent). `Ok(false)` when the attempt does
    /// not exist or is no longer awaiting a grade (a retried job, a reviewer's override first):
    /// nothing changes, so a grade is never applied twice. The grader's `note` (the model's
    /// rationale) is written in the same transaction: stored with the grade, or not at all.
    ///
    /// # Errors
    /// Store failures.
    pub async fn apply_late_grade(
        &self,
        attempt_id: Uuid,
        correct: bool,
        grader: &str,
        note: Option<GradeNote<'_>>,
    ) -> Result<bool> {
        let Some(a) = repo::attempt_by_id(&self.db, attempt_id).await? else {
            return Ok(false);
        };
        if a.ungraded_reason.as_deref() != Some(UngradedReason::AwaitingGrader.as_str()) {
            return Ok(false);
        }
        // The session's pool gives the set's parameters, built before the write lock: the cached
        // one of an open session, else one built for this grade only (an ended session's pool
        // is not cached again).
        let pool = match repo::session_of(&self.db, a.session_id, a.learner_id, false).await? {
            Some(session) if parse::<Status>(&session.status)?.is_open() => {
                Some(self.pool_for(&session).await?)
            }
            Some(session) => Some(Arc::new(self.build_pool(&session).await?)),
            None => None,
        };
        let _gate = self.write_gate().await;
        let txn = begin_write(&self.db).await?;
        // (A publish between the pool and this read leaves the grade under the set the pool
        // was built with, as for an answer already sent; the recomputation replays it.)
        let Some(repo::SessionRows { items, .. }) =
            repo::session_with_items(&txn, a.session_id, a.learner_id, true).await?
        else {
            return Ok(false);
        };
        // Read again under the lock: a concurrent job or override may have graded it.
        let Some(a) = repo::attempt_by_id(&txn, attempt_id).await? else {
            return Ok(false);
        };
        if a.ungraded_reason.as_deref() != Some(UngradedReason::AwaitingGrader.as_str()) {
            return Ok(false);
        }
        let target = items
            .into_iter()
            .find(|i| i.id == a.session_item_id)
            .ok_or(TrainingError::NotFound)?;
        repo::regrade_attempt(
            &txn,
            attempt_id,
            Some(if correct { 1.0 } else { 0.0 }),
            Some(correct),
            Some(grader),
            None,
        )
        .await?;
        if let Some(n) = note {
            myqcm_db::ai::put_rationale(&txn, attempt_id, n.rationale, n.model, n.at_ms).await?;
        }
        let rev = self.content.revision(&txn, target.revision_id).await?;
        let (mut state, memory) = State::load(&txn, a.learner_id, Some(target.item_id)).await?;
        let model = self
            .item_model(&txn, &target, &rev, pool.as_deref())
            .await?;
        let mut batch = WriteBatch::new(self.db.get_database_backend());
        self.update_state(&mut batch, &target, model, &mut state, memory, correct)?;
        if !batch.run(&txn).await? {
            return Err(TrainingError::Store(
                "the learner state of a late grade was not written".into(),
            ));
        }
        txn.commit().await?;
        Ok(true)
    }

    /// A refused QROC answer the tolerant match is unsure about waits for the language model
    /// when grading assistance is on and the learner's plan includes it (never 0 meanwhile);
    /// every other outcome stands. The plan is read through the answer's transaction, and only
    /// for such an answer.
    async fn second_grader(
        &self,
        txn: &DatabaseTransaction,
        learner: Uuid,
        outcome: Outcome,
        content: &myqcm_domain::catalogue::ItemContent,
        response: &Response,
    ) -> Result<Outcome> {
        let unsure = match (outcome, response, &content.qroc) {
            (Outcome::Graded { ratio, .. }, Response::Text(t), Some(spec)) => {
                self.llm_grading
                    && ratio < 1.0
                    && myqcm_domain::catalogue::qroc::is_unsure(spec, t, content.locale)
            }
            _ => false,
        };
        if !unsure {
            return Ok(outcome);
        }
        match self
            .entitlements
            .require(txn, learner, Feature::QrocGrading, 1)
            .await
        {
            Ok(()) => Ok(Outcome::Ungraded {
                reason: UngradedReason::AwaitingGrader,
            }),
            Err(EntitlementError::Exhausted(_)) => Ok(outcome),
            Err(e) => Err(e.into()),
        }
    }

    /// When a write must not proceed: the session is over, paused, or an exam whose time ran
    /// out (which this call ends, in `txn`; the caller commits).
    async fn refuse_write(
        &self,
        txn: &DatabaseTransaction,
        session: &training_session::Model,
    ) -> Result<Option<TrainingError>> {
        let status: Status = parse(&session.status)?;
        if !status.is_open() {
            return Ok(Some(TrainingError::SessionClosed));
        }
        if self.time_up(session) {
            self.end_session(txn, session.clone(), EndReason::TimeUp)
                .await?;
            return Ok(Some(TrainingError::TimeUp));
        }
        if status == Status::Paused {
            return Ok(Some(TrainingError::SessionPaused));
        }
        Ok(None)
    }

    fn time_up(&self, s: &training_session::Model) -> bool {
        s.status == Status::Active.as_str() && s.deadline_at.is_some_and(|d| self.now_ms() >= d)
    }

    /// Ends a session: the open item (if any) is closed as skipped.
    async fn end_session(
        &self,
        txn: &DatabaseTransaction,
        session: training_session::Model,
        reason: EndReason,
    ) -> Result<training_session::Model> {
        if let Some(open) = repo::current_item(txn, session.id).await? {
            repo::close_item(txn, open.id, "skipped", self.now_ms()).await?;
        }
        Ok(repo::update_session(txn, self.ended(session, reason)).await?)
    }

    /// The changes that end `session` for `reason`.
    fn ended(
        &self,
        session: training_session::Model,
        reason: EndReason,
    ) -> training_session::ActiveModel {
        let now = self.now_ms();
        let status = if reason == EndReason::Expired {
            Status::Expired
        } else {
            Status::Completed
        };
        let mut a: training_session::ActiveModel = session.into();
        a.status = Set(status.as_str().into());
        a.end_reason = Set(Some(reason.as_str().into()));
        a.completed_at = Set(Some(now));
        a.updated_at = Set(now);
        a.paused_at = Set(None);
        a
    }

    /// The IRT parameters and KCs (with BKT parameters) of a served item: from the pool, else
    /// the priors and the item's tags.
    async fn item_model<C: ConnectionTrait>(
        &self,
        c: &C,
        target: &session_item::Model,
        rev: &Revision,
        pool: Option<&Pool>,
    ) -> Result<(myqcm_psychometrics::irt::ItemParams, Vec<(Uuid, BktParams)>)> {
        if let Some(pool) = pool
            && let Some(u) = pool.unit_of(target.item_id)
            && let Some(it) = pool.units[u]
                .items
                .iter()
                .find(|i| i.item_id == target.item_id)
        {
            let kcs = it
                .kcs
                .iter()
                .map(|k| (pool.kcs[*k], pool.kc_params[*k]))
                .collect();
            return Ok((it.params, kcs));
        }
        let content = &rev.content;
        let params =
            learning::prior_item_params(content.kind, content.difficulty, content.options.len());
        let kcs = repo::kc_tags(c, &[target.item_id])
            .await?
            .into_iter()
            .map(|(_, kc, _)| (kc, BktParams::default()))
            .collect();
        Ok((params, kcs))
    }

    /// Applies one graded answer to the learner state (ability, KCs, memory): the new rows go
    /// into `batch`, and `state` is updated for the choice of the next item.
    fn update_state(
        &self,
        batch: &mut WriteBatch,
        target: &session_item::Model,
        model: (myqcm_psychometrics::irt::ItemParams, Vec<(Uuid, BktParams)>),
        state: &mut State,
        memory: Option<learner_memory::Model>,
        correct: bool,
    ) -> Result<()> {
        let now = self.now_ms();
        let learner = target.learner_id;
        let (params, kcs) = model;
        let ability = state.ability(target.subject_id);
        let kc_in: Vec<(KcState, BktParams)> = kcs
            .iter()
            .map(|(id, p)| {
                (
                    state
                        .kcs
                        .get(id)
                        .copied()
                        .unwrap_or_else(|| KcState::start(p)),
                    *p,
                )
            })
            .collect();
        let memory = memory.map(|m| Memory {
            stability: m.stability,
            difficulty: m.difficulty,
            reviews: u32::try_from(m.reviews).unwrap_or(0),
            lapses: u32::try_from(m.lapses).unwrap_or(0),
            last_review_ms: m.last_review_at,
            due_ms: m.due_at,
        });
        let u = learning::update(
            &self.memory,
            &ability,
            &kc_in,
            memory.as_ref(),
            &params,
            correct,
            now,
        )?;
        let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        repo::queue_learner_state(
            batch,
            learner_ability::Model {
                learner_id: learner,
                subject_id: target.subject_id,
                theta: u.ability.theta,
                se: u.ability.se,
                answers: count(u.ability.answers),
                updated_at: now,
            },
            kcs.iter()
                .zip(&u.kcs)
                .map(|((id, _), s)| learner_kc::Model {
                    learner_id: learner,
                    kc_id: *id,
                    mastery: s.mastery,
                    evidence: count(s.evidence),
                    updated_at: now,
                })
                .collect(),
            learner_memory::Model {
                learner_id: learner,
                item_id: target.item_id,
                subject_id: target.subject_id,
                stability: u.memory.stability,
                difficulty: u.memory.difficulty,
                reviews: count(u.memory.reviews),
                lapses: count(u.memory.lapses),
                last_review_at: u.memory.last_review_ms,
                due_at: u.memory.due_ms,
            },
        );
        state.abilities.insert(target.subject_id, u.ability);
        for ((id, _), s) in kcs.iter().zip(&u.kcs) {
            state.kcs.insert(*id, *s);
        }
        Ok(())
    }

    /// What to serve after `items` (a case in progress continues; otherwise the count, then
    /// the selection decide).
    fn choose(
        &self,
        session: &training_session::Model,
        items: &[session_item::Model],
        pool: &Pool,
        state: &State,
    ) -> Result<Step> {
        if let Some(last) = items.last()
            && let (Some(_), Some(step), Some(size)) =
                (last.case_id, last.case_step, last.case_size)
            && step < size
            && let Some(unit) = pool.unit_of(last.item_id)
            && (step as usize) < pool.units[unit].items.len()
        {
            return Ok(Step::Serve {
                unit,
                index: step as usize,
                reason: Reason::CaseContinuation,
            });
        }
        if items.len() >= usize::try_from(session.item_count).unwrap_or(0) {
            return Ok(Step::End(EndReason::Finished));
        }
        let style: Style = parse(&session.style)?;
        let served = served_units(pool, items);
        let theta = match (style, session.subject_id) {
            (Style::Review, _) | (_, None) => 0.0,
            (_, Some(s)) => state.ability(s).theta,
        };
        let mastery: Vec<f64> = pool
            .kcs
            .iter()
            .zip(&pool.kc_params)
            .map(|(id, p)| state.kcs.get(id).map_or(p.p_init(), |s| s.mastery))
            .collect();
        let position = i32::try_from(items.len()).unwrap_or(i32::MAX);
        let mut rng = step_rng(session.seed, position, 1);
        let started = std::time::Instant::now();
        let chosen = pool.select(style, theta, &mastery, &served, &mut rng);
        metrics::histogram!(metric::SELECTION).record(started.elapsed().as_secs_f64());
        Ok(match chosen {
            Some((unit, reason)) => Step::Serve {
                unit,
                index: 0,
                reason,
            },
            None => Step::End(EndReason::PoolExhausted),
        })
    }

    /// Serves the next item of `session` (after `items`, none of which stays open) or ends it;
    /// the new served item and the session's changes go into `batch`.
    async fn advance(
        &self,
        txn: &DatabaseTransaction,
        batch: &mut WriteBatch,
        session: training_session::Model,
        items: &[session_item::Model],
        pool: Option<&Pool>,
        state: &State,
    ) -> Result<(training_session::Model, Next)> {
        let step = match pool {
            Some(p) => self.choose(&session, items, p, state)?,
            None => Step::End(EndReason::PoolExhausted),
        };
        let (unit, index, reason) = match step {
            Step::Serve {
                unit,
                index,
                reason,
            } => (unit, index, reason),
            Step::End(reason) => {
                let widen = match pool {
                    Some(p) if reason == EndReason::PoolExhausted => {
                        p.widenings(&served_units(p, items).into_iter().collect())
                    }
                    _ => vec![],
                };
                let session = repo::queue_session_update(batch, self.ended(session, reason))?;
                return Ok((
                    session,
                    Next::End(EndView {
                        reason: reason.as_str().into(),
                        widen,
                    }),
                ));
            }
        };
        let Some(pool) = pool else {
            return Err(TrainingError::Store(
                "a unit was chosen without a pool".into(),
            ));
        };
        let now = self.now_ms();
        let params: SessionParams = parse_json(&session.params)?;
        let u = &pool.units[unit];
        let it = &u.items[index];
        let rev = self.content.revision(txn, it.revision_id).await?;
        let position = i32::try_from(items.len()).unwrap_or(i32::MAX);
        let option_order = if rev.content.kind == ItemKind::Qroc {
            None
        } else {
            let mut ids: Vec<usize> = (0..rev.content.options.len()).collect();
            if params.shuffle_options {
                ids.shuffle(&mut step_rng(session.seed, position, 2));
            }
            Some(json(&ids)?)
        };
        let kcs: Vec<(KcState, BktParams)> = it
            .kcs
            .iter()
            .map(|k| {
                let p = pool.kc_params[*k];
                (
                    state
                        .kcs
                        .get(&pool.kcs[*k])
                        .copied()
                        .unwrap_or_else(|| KcState::start(&p)),
                    p,
                )
            })
            .collect();
        let before = learning::predict(&state.ability(it.subject_id), &kcs, &it.params)?;
        let case_size = u
            .case_id
            .map(|_| i32::try_from(u.items.len()).unwrap_or(i32::MAX));
        let row = session_item::Model {
            id: Uuid::now_v7(),
            session_id: session.id,
            learner_id: session.learner_id,
            position,
            item_id: it.item_id,
            revision_id: it.revision_id,
            subject_id: it.subject_id,
            case_id: u.case_id,
            case_step: u
                .case_id
                .map(|_| i32::try_from(index + 1).unwrap_or(i32::MAX)),
            case_size,
            option_order,
            reason: reason.as_str().into(),
            p_correct: Some(before.p_irt),
            p_correct_bkt: before.p_bkt,
            parameter_set_id: it.parameter_set,
            state: "served".into(),
            served_at: now,
            closed_at: None,
            flagged: false,
            note: None,
        };
        repo::queue_session_item(batch, row.clone());
        let mut a: training_session::ActiveModel = session.into();
        a.served = Set(position + 1);
        a.updated_at = Set(now);
        let session = repo::queue_session_update(batch, a)?;
        let view = self.served_view(txn, &session, &row).await?;
        Ok((session, Next::Item(Box::new(view))))
    }

    /// The stored result of an earlier submission, with the session's current state.
    async fn repeat(
        &self,
        session: &training_session::Model,
        target: &session_item::Model,
        stored: &attempt::Model,
    ) -> Result<AnswerOutcome> {
        let fresh = repo::session_of(&self.db, session.id, session.learner_id, false)
            .await?
            .ok_or(TrainingError::NotFound)?;
        let next = self.current_next(&fresh).await?;
        let style: Style = parse(&fresh.style)?;
        let open = parse::<Status>(&fresh.status)?.is_open();
        let (grade, feedback) = if style == Style::Exam && open {
            (None, None)
        } else {
            let rev = self.content.revision(&self.db, target.revision_id).await?;
            let response: Response = parse_json(&stored.response)?;
            let explain = self.explanations_allowed(session.learner_id).await?;
            (
                Some(grade_view(stored)),
                Some(feedback(&rev, target, &response, explain)?),
            )
        };
        Ok(AnswerOutcome {
            served_id: target.id,
            repeat: true,
            grade,
            feedback,
            next,
        })
    }

    /// The item waiting in a session, or why it ended.
    async fn current_next(&self, session: &training_session::Model) -> Result<Next> {
        Ok(match repo::current_item(&self.db, session.id).await? {
            Some(item) => Next::Item(Box::new(self.served_view(&self.db, session, &item).await?)),
            None => Next::End(EndView {
                reason: session
                    .end_reason
                    .clone()
                    .unwrap_or_else(|| EndReason::Finished.as_str().into()),
                widen: vec![],
            }),
        })
    }

    async fn explanations_allowed(&self, learner: Uuid) -> Result<bool> {
        self.allowed(learner, Feature::Explanations).await
    }

    /// Whether the learner's plan includes `feature` now.
    async fn allowed(&self, learner: Uuid, feature: Feature) -> Result<bool> {
        Ok(self
            .entitlements
            .allowance(learner, feature)
            .await?
            .permits(1))
    }

    /// A served item as its learner sees it (no key).
    async fn served_view<C: ConnectionTrait>(
        &self,
        c: &C,
        session: &training_session::Model,
        item: &session_item::Model,
    ) -> Result<ServedItemView> {
        let rev = self.content.revision(c, item.revision_id).await?;
        let order = option_order(item)?;
        let options = order
            .iter()
            .enumerate()
            .filter_map(|(pos, id)| {
                rev.options_html.get(*id).map(|h| ServedOption {
                    id: *id,
                    label: letter(pos),
                    text_html: h.clone(),
                })
            })
            .collect();
        let case = match item.case_id {
            Some(cid) => {
                let t = self.content.case(c, cid).await?;
                Some(CaseContext {
                    case_id: cid,
                    title: t.title.clone(),
                    scenario_html: t.scenario_html.clone(),
                    step: item.case_step.unwrap_or(1),
                    size: item.case_size.unwrap_or(1),
                })
            }
            None => None,
        };
        let reason: Reason = parse(&item.reason)?;
        let params: SessionParams = parse_json(&session.params)?;
        let locale: Locale = rev.content.locale;
        Ok(ServedItemView {
            served_id: item.id,
            position: item.position + 1,
            item_id: item.item_id,
            revision_id: item.revision_id,
            kind: rev.content.kind.as_str().into(),
            locale: locale.as_str().into(),
            difficulty: rev.content.difficulty.as_str().into(),
            estimated_seconds: rev.content.estimated_seconds,
            per_item_seconds: params.per_item_seconds,
            stem_html: rev.stem_html.clone(),
            options,
            case,
            reason: ReasonView {
                code: reason.as_str().into(),
                text: reason.text(locale).into(),
            },
            flagged: item.flagged,
            note: item.note.clone(),
        })
    }

    fn session_view(
        &self,
        s: &training_session::Model,
        current: Option<ServedItemView>,
        end: Option<EndView>,
    ) -> SessionView {
        let now = self.now_ms();
        SessionView {
            id: s.id,
            mode: s.mode.clone(),
            style: s.style.clone(),
            status: s.status.clone(),
            subject_id: s.subject_id,
            params: serde_json::from_str(&s.params).unwrap_or(SessionParams {
                kinds: vec![],
                difficulties: vec![],
                engine_kinds: false,
                item_count: 0,
                per_item_seconds: None,
                time_limit_seconds: None,
                shuffle_options: true,
            }),
            served: s.served,
            rule_version: s.rule_version.clone(),
            deadline_at: s.deadline_at.map(from_ms),
            remaining_ms: s
                .deadline_at
                .map(|d| (d - s.paused_at.unwrap_or(now)).max(0)),
            time_up: self.time_up(s),
            created_at: from_ms(s.created_at),
            current,
            end,
        }
    }

    /// Skips the item currently served and serves the next one.
    pub async fn skip(&self, actor: &Actor, id: Uuid, served_id: Uuid) -> Result<Next> {
        require(actor, Action::Train)?;
        match self.skip_once(actor.id, id, served_id).await? {
            Fresh::Done(next) => Ok(next),
            Fresh::Stale => match self.skip_once(actor.id, id, served_id).await? {
                Fresh::Done(next) => Ok(next),
                Fresh::Stale => Err(TrainingError::Store(
                    "the parameter set changed twice during one skip".into(),
                )),
            },
        }
    }

    /// One try of [`Self::skip`] (as [`Self::answer_once`]).
    async fn skip_once(&self, learner: Uuid, id: Uuid, served_id: Uuid) -> Result<Fresh<Next>> {
        let pool = self.pool_before_write(learner, id).await?;
        let _gate = self.write_gate().await;
        let txn = begin_write(&self.db).await?;
        let rows = repo::session_with_items(&txn, id, learner, true)
            .await?
            .ok_or(TrainingError::NotFound)?;
        if self.stale(id, pool.as_deref(), rows.active_set) {
            return Ok(Fresh::Stale);
        }
        let (session, mut items) = (rows.session, rows.items);
        let target = items
            .iter()
            .find(|i| i.id == served_id)
            .cloned()
            .ok_or(TrainingError::NotFound)?;
        match target.state.as_str() {
            "skipped" => {
                txn.commit().await?;
                return self.current_next(&session).await.map(Fresh::Done);
            }
            "answered" => return Err(TrainingError::NotCurrent),
            _ => {}
        }
        if let Some(e) = self.refuse_write(&txn, &session).await? {
            txn.commit().await?;
            return Err(e);
        }
        let mut batch = WriteBatch::new(self.db.get_database_backend());
        repo::queue_close_item(&mut batch, target.id, "skipped", self.now_ms());
        if let Some(i) = items.iter_mut().find(|i| i.id == target.id) {
            i.state = "skipped".into();
        }
        let (state, _) = State::load(&txn, learner, None).await?;
        let (_, next) = self
            .advance(&txn, &mut batch, session, &items, pool.as_deref(), &state)
            .await?;
        if !batch.run(&txn).await? {
            return Err(TrainingError::NotCurrent);
        }
        txn.commit().await?;
        self.forget_pool_at_end(id, pool.as_deref(), &next);
        Ok(Fresh::Done(next))
    }

    /// Whether `pool` was built under another set than `active_set`, the set in use read in
    /// the write's transaction; a stale pool leaves the cache, so the next try builds it
    /// again under the set in use.
    fn stale(&self, id: Uuid, pool: Option<&Pool>, active_set: i64) -> bool {
        let stale = pool.is_some_and(|p| p.parameter_set != active_set);
        if stale {
            self.pools.invalidate(&id);
        }
        stale
    }

    /// How many session pools the cache holds now (pending evictions applied).
    pub fn cached_pools(&self) -> u64 {
        self.pools.run_pending_tasks();
        self.pools.entry_count()
    }

    /// Drops the cached pool of session `id` once it has ended: a pool holds the whole
    /// candidate set of its subject, and a learner starts a new session every few minutes, so
    /// pools kept until their TTL made the server's memory grow with the rate of sessions
    /// (docs/PERFORMANCE.md, "Soak"). The end page of a session that ran out of questions
    /// builds the pool again, uncached, for the filters that would widen it.
    fn forget_pool_at_end(&self, id: Uuid, pool: Option<&Pool>, next: &Next) {
        if let (Some(_), Next::End(_)) = (pool, next) {
            self.pools.invalidate(&id);
        }
    }

    /// Flags or unflags a served item of one of the caller's sessions.
    pub async fn flag(
        &self,
        actor: &Actor,
        id: Uuid,
        served_id: Uuid,
        flagged: bool,
    ) -> Result<()> {
        require(actor, Action::Train)?;
        repo::session_of(&self.db, id, actor.id, false)
            .await?
            .ok_or(TrainingError::NotFound)?;
        if repo::set_flag(&self.db, id, served_id, flagged).await? {
            Ok(())
        } else {
            Err(TrainingError::NotFound)
        }
    }

    /// Writes (or clears, with an empty text) the caller's personal note on a served item.
    pub async fn note(&self, actor: &Actor, id: Uuid, served_id: Uuid, text: &str) -> Result<()> {
        require(actor, Action::Train)?;
        let text = text.trim();
        if text.chars().count() > 5_000 {
            return Err(invalid("note", "too_long", "At most 5,000 characters."));
        }
        repo::session_of(&self.db, id, actor.id, false)
            .await?
            .ok_or(TrainingError::NotFound)?;
        let note = (!text.is_empty()).then(|| text.to_owned());
        if repo::set_note(&self.db, id, served_id, note).await? {
            Ok(())
        } else {
            Err(TrainingError::NotFound)
        }
    }

    /// Pauses a session (its exam clock stops); full mocks cannot pause.
    pub async fn pause(&self, actor: &Actor, id: Uuid) -> Result<SessionView> {
        require(actor, Action::Train)?;
        let _gate = self.write_gate().await;
        let txn = begin_write(&self.db).await?;
        let session = repo::session_of(&txn, id, actor.id, true)
            .await?
            .ok_or(TrainingError::NotFound)?;
        if session.status != Status::Paused.as_str() {
            if let Some(e) = self.refuse_write(&txn, &session).await? {
                txn.commit().await?;
                return Err(e);
            }
            let request: SessionRequest = parse_json(&session.request)?;
            if request.full_mock {
                return Err(TrainingError::NoPause);
            }
            let now = self.now_ms();
            let mut a: training_session::ActiveModel = session.into();
            a.status = Set(Status::Paused.as_str().into());
            a.paused_at = Set(Some(now));
            a.updated_at = Set(now);
            repo::update_session(&txn, a).await?;
        }
        txn.commit().await?;
        self.session(actor, id).await
    }

    /// Resumes a paused session: the paused time is added to the exam deadline and removed
    /// from the open item's answering time.
    pub async fn resume(&self, actor: &Actor, id: Uuid) -> Result<SessionView> {
        require(actor, Action::Train)?;
        let _gate = self.write_gate().await;
        let txn = begin_write(&self.db).await?;
        let session = repo::session_of(&txn, id, actor.id, true)
            .await?
            .ok_or(TrainingError::NotFound)?;
        match parse::<Status>(&session.status)? {
            Status::Paused => {
                let now = self.now_ms();
                let paused = (now - session.paused_at.unwrap_or(now)).max(0);
                repo::shift_open_item(&txn, id, paused).await?;
                let deadline = session.deadline_at.map(|d| d + paused);
                let mut a: training_session::ActiveModel = session.into();
                a.status = Set(Status::Active.as_str().into());
                a.paused_at = Set(None);
                a.deadline_at = Set(deadline);
                a.updated_at = Set(now);
                repo::update_session(&txn, a).await?;
            }
            Status::Active => {}
            Status::Completed | Status::Expired => return Err(TrainingError::SessionClosed),
        }
        txn.commit().await?;
        self.session(actor, id).await
    }

    /// Ends a session now (the open item counts as skipped) and returns its summary.
    pub async fn finish(&self, actor: &Actor, id: Uuid) -> Result<SummaryView> {
        require(actor, Action::Train)?;
        let _gate = self.write_gate().await;
        let txn = begin_write(&self.db).await?;
        let session = repo::session_of(&txn, id, actor.id, true)
            .await?
            .ok_or(TrainingError::NotFound)?;
        if parse::<Status>(&session.status)?.is_open() {
            let reason = if self.time_up(&session) {
                EndReason::TimeUp
            } else {
                EndReason::Stopped
            };
            self.end_session(&txn, session, reason).await?;
        }
        txn.commit().await?;
        self.pools.invalidate(&id);
        self.summary(actor, id).await
    }

    /// The summary of a session (so far, when still open): % correct from labels, mean score,
    /// time, per-KC breakdown. An exam still open shows counts and time but no grade: graded,
    /// correct, incorrect, % correct, mean score and the per-KC breakdown stay empty until it ends.
    pub async fn summary(&self, actor: &Actor, id: Uuid) -> Result<SummaryView> {
        require(actor, Action::Train)?;
        let s = repo::session_of(&self.db, id, actor.id, false)
            .await?
            .ok_or(TrainingError::NotFound)?;
        let items = repo::session_items(&self.db, id).await?;
        let attempts = repo::attempts_of_session(&self.db, id).await?;
        // An exam still running discloses no grade (as its answers and review do not).
        let disclose =
            parse::<Style>(&s.style)? != Style::Exam || !parse::<Status>(&s.status)?.is_open();
        let graded: Vec<&attempt::Model> = attempts
            .iter()
            .filter(|a| disclose && a.correct.is_some())
            .collect();
        let correct = graded.iter().filter(|a| a.correct == Some(true)).count();
        let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let ratios: Vec<f64> = graded.iter().filter_map(|a| a.ratio).collect();
        // Per KC, over graded answers.
        let item_ids: Vec<Uuid> = graded.iter().map(|a| a.item_id).collect();
        let tags = repo::kc_tags(&self.db, &item_ids).await?;
        let mut per: HashMap<Uuid, (u32, u32, f64)> = HashMap::new();
        for a in &graded {
            for (_, kc, _) in tags.iter().filter(|t| t.0 == a.item_id) {
                let e = per.entry(*kc).or_default();
                e.0 += 1;
                e.1 += u32::from(a.correct == Some(true));
                e.2 += a.ratio.unwrap_or(0.0);
            }
        }
        let kc_ids: Vec<Uuid> = per.keys().copied().collect();
        let codes: HashMap<Uuid, String> = if kc_ids.is_empty() {
            HashMap::new()
        } else {
            use sea_orm::{ColumnTrait, QueryFilter};
            catalogue_repo::kc_node::Entity::find()
                .filter(catalogue_repo::kc_node::Column::Id.is_in(kc_ids))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|k| (k.id, k.code))
                .collect()
        };
        let mut per_kc: Vec<KcBreakdown> = per
            .into_iter()
            .map(|(kc, (g, c, sum))| KcBreakdown {
                kc_id: kc,
                code: codes.get(&kc).cloned().unwrap_or_default(),
                graded: g,
                correct: c,
                mean_score: sum / f64::from(g.max(1)),
            })
            .collect();
        per_kc.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(SummaryView {
            id: s.id,
            style: s.style,
            status: s.status,
            end_reason: s.end_reason,
            served: n(items.len()),
            answered: n(attempts.len()),
            graded: n(graded.len()),
            correct: n(correct),
            incorrect: n(graded.len() - correct),
            ungraded: n(attempts.iter().filter(|a| a.correct.is_none()).count()),
            skipped: n(items.iter().filter(|i| i.state == "skipped").count()),
            flagged: n(items.iter().filter(|i| i.flagged).count()),
            percent_correct: (!graded.is_empty())
                .then(|| 100.0 * correct as f64 / graded.len() as f64),
            mean_score: mean(&ratios),
            time_spent_ms: attempts.iter().map(|a| a.time_spent_ms).sum(),
            per_kc,
        })
    }

    /// The replay of a session: every served item with the learner's answer, and — for closed
    /// items, and in exam sessions only once the session is over — the key and explanations.
    pub async fn review(&self, actor: &Actor, id: Uuid) -> Result<Vec<ReviewedItem>> {
        require(actor, Action::Train)?;
        let s = repo::session_of(&self.db, id, actor.id, false)
            .await?
            .ok_or(TrainingError::NotFound)?;
        let style: Style = parse(&s.style)?;
        let open = parse::<Status>(&s.status)?.is_open();
        let disclose = style != Style::Exam || !open;
        let items = repo::session_items(&self.db, id).await?;
        let attempts: HashMap<Uuid, attempt::Model> = repo::attempts_of_session(&self.db, id)
            .await?
            .into_iter()
            .map(|a| (a.session_item_id, a))
            .collect();
        let explain = self.explanations_allowed(actor.id).await?;
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            let view = self.served_view(&self.db, &s, item).await?;
            let stored = attempts.get(&item.id);
            let response: Option<Response> = stored.map(|a| parse_json(&a.response)).transpose()?;
            let (selected, text) = match &response {
                Some(Response::Options(o)) => (o.clone(), None),
                Some(Response::Text(t)) => (vec![], Some(t.clone())),
                None => (vec![], None),
            };
            let closed = item.state != "served";
            let feedback = if closed && disclose {
                let rev = self.content.revision(&self.db, item.revision_id).await?;
                let r = response.clone().unwrap_or(Response::Options(vec![]));
                Some(feedback(&rev, item, &r, explain)?)
            } else {
                None
            };
            out.push(ReviewedItem {
                item: view,
                state: item.state.clone(),
                selected,
                text,
                grade: stored.filter(|_| disclose).map(grade_view),
                feedback,
                time_spent_ms: stored.map(|a| a.time_spent_ms),
            });
        }
        Ok(out)
    }

    /// Closes sessions left open and idle for [`TrainingConfig::idle_expiry`] (the recurring
    /// job [`EXPIRE_JOB`]). Returns how many.
    pub async fn expire_abandoned(&self) -> Result<u64> {
        let now = self.now_ms();
        let idle = i64::try_from(self.config.idle_expiry.as_millis()).unwrap_or(i64::MAX);
        Ok(repo::expire_idle(&self.db, now.saturating_sub(idle), now).await?)
    }
}

/// The units served so far, in order, each once.
fn served_units(pool: &Pool, items: &[session_item::Model]) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for i in items {
        if let Some(u) = pool.unit_of(i.item_id)
            && !out.contains(&u)
        {
            out.push(u);
        }
    }
    out
}

fn option_order(item: &session_item::Model) -> Result<Vec<usize>> {
    item.option_order
        .as_deref()
        .map(parse_json)
        .transpose()
        .map(Option::unwrap_or_default)
}

/// `A`, `B`, … `Z`, then `27`, `28`…
fn letter(pos: usize) -> String {
    u8::try_from(pos).ok().filter(|p| *p < 26).map_or_else(
        || (pos + 1).to_string(),
        |p| char::from(b'A' + p).to_string(),
    )
}

fn profile_view(p: Option<learner_profile::Model>) -> ProfileView {
    match p {
        Some(p) => ProfileView {
            complete: p.year_of_study.is_some(),
            university_id: p.university_id,
            faculty_id: p.faculty_id,
            year_of_study: p.year_of_study,
            exam_date: p.exam_date,
            daily_minutes: p.daily_minutes,
            mode: p.mode,
        },
        None => ProfileView {
            university_id: None,
            faculty_id: None,
            year_of_study: None,
            exam_date: None,
            daily_minutes: None,
            mode: "guided".into(),
            complete: false,
        },
    }
}

fn grade_view(a: &attempt::Model) -> GradeView {
    GradeView {
        graded: a.correct.is_some(),
        ratio: a.ratio,
        correct: a.correct,
        grader: a.grader.clone(),
        ungraded_reason: a.ungraded_reason.clone(),
    }
}

/// Keys and explanations of a closed item, in the order it was shown.
fn feedback(
    rev: &Revision,
    item: &session_item::Model,
    response: &Response,
    explain: bool,
) -> Result<Feedback> {
    let selected: &[usize] = match response {
        Response::Options(o) => o,
        Response::Text(_) => &[],
    };
    let non_empty = |s: &String| (!s.trim().is_empty()).then(|| s.clone());
    let options = option_order(item)?
        .iter()
        .enumerate()
        .filter_map(|(pos, id)| {
            let o = rev.content.options.get(*id)?;
            Some(OptionFeedback {
                id: *id,
                label: letter(pos),
                text_html: rev.options_html.get(*id).cloned().unwrap_or_default(),
                correct: o.correct,
                selected: selected.contains(id),
                explanation_html: if explain {
                    rev.option_explanations_html.get(*id).and_then(non_empty)
                } else {
                    None
                },
            })
        })
        .collect();
    Ok(Feedback {
        options,
        expected_answer: rev.content.qroc.as_ref().map(|q| ExpectedAnswer {
            text: q.expected.clone(),
            variants: q.variants.clone(),
            unit: q.numeric.as_ref().and_then(|n| n.unit.clone()),
        }),
        explanation_html: if explain {
            non_empty(&rev.explanation_html)
        } else {
            None
        },
        references: rev.content.references.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_then_numbers() {
        assert_eq!(letter(0), "A");
        assert_eq!(letter(25), "Z");
        assert_eq!(letter(26), "27");
    }

    #[test]
    fn step_generators_are_reproducible_and_differ_by_position() {
        use rand::RngExt;
        let a: u64 = step_rng(42, 3, 1).random();
        let b: u64 = step_rng(42, 3, 1).random();
        let c: u64 = step_rng(42, 4, 1).random();
        let d: u64 = step_rng(42, 3, 2).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
