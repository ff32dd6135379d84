//! Generation requests over HTTP (issue 15): [`start`] checks the requester, the counts, the
//! course, the KCs and the document's type, stores the document in the blob store and queues the
//! `ai.generate` job; [`get`] and [`watch`] show the request's job to its requester (content
//! admins see every request). A request is known by its id; its job carries the idempotency key
//! `ai.generate/<id>`. With no language model configured every use case answers
//! [`RequestError::Unavailable`].

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use myqcm_db::ai::{GenerationRequestRow, RequestOutcome};
use myqcm_db::jobs::{JobRow, NewJob};
use myqcm_db::{DatabaseConnection, DbError};
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::catalogue::{Difficulty, Locale};
use myqcm_domain::permissions::Action;
use myqcm_domain::ports::BlobStore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::drafts::{self, AiError};
use super::generate::{GenerationSpec, Rejection};
use super::ingest::{self, IngestError, LIMITS};
use super::usage::{self, DailyLimit, UsageError, UsagePolicy};
use crate::jobs::JobEvent;

/// The job kind.
pub const KIND: &str = "ai.generate";

/// What a generation job needs (the payload of `ai.generate`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GeneratePayload {
    /// The request (idempotency keys are `<request>/<chunk>`).
    pub request_id: Uuid,
    /// The uploaded document.
    pub blob_key: String,
    /// Requester id.
    pub requester: Uuid,
    /// Requester roles when the request was accepted.
    pub roles: Vec<String>,
    /// Requester admin scopes when the request was accepted.
    pub scopes: Vec<String>,
    /// Whether the requester had enrolled TOTP.
    pub mfa_enrolled: bool,
    /// Course code.
    pub course: String,
    /// Course title given to the model.
    pub course_title: String,
    /// KC codes to tag the drafts with.
    pub kcs: Vec<String>,
    /// KC names given to the model.
    pub kc_names: Vec<String>,
    /// QCS wanted.
    pub qcs: u32,
    /// QCM wanted.
    pub qcm: u32,
    /// QROC wanted.
    pub qroc: u32,
    /// `easy`, `medium` or `hard`.
    pub difficulty: String,
    /// `fr`, `ar` or `en`.
    pub locale: String,
}

/// What the author asks for (the document travels beside it).
#[derive(Debug, Clone, Default)]
pub struct GenerationRequest {
    /// Course code.
    pub course: String,
    /// KC codes the drafts are tagged with (at least one).
    pub kcs: Vec<String>,
    /// QCS wanted.
    pub qcs: u32,
    /// QCM wanted.
    pub qcm: u32,
    /// QROC wanted.
    pub qroc: u32,
    /// `easy`, `medium` or `hard`.
    pub difficulty: String,
    /// `fr`, `ar` or `en`.
    pub language: String,
}

/// A request as its author sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GenerationView {
    /// Request id.
    pub id: Uuid,
    /// The job that runs it.
    pub job_id: i64,
    /// `queued`, `running`, `done`, `dead` (failed, nothing saved) or `cancelled`.
    pub status: String,
    /// Fraction done in [0, 1].
    pub progress: Option<f64>,
    /// What the job last said; once done, the summary
    /// (`"<n> drafts created; <m> refused (…); <t> tokens"`).
    pub message: Option<String>,
    /// Why the last attempt failed (nothing was saved).
    pub error: Option<String>,
    /// Done, dead or cancelled.
    pub finished: bool,
    /// The request as asked and what it left, from its `generation_request` row (none for a
    /// request made before the rows were kept).
    pub details: Option<RequestDetails>,
}

/// A generation request as recorded: what was asked, and once finished what it left,
/// including every refused item with its reason code.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RequestDetails {
    /// Course code.
    pub course: String,
    /// KC codes.
    pub kcs: Vec<String>,
    /// QCS wanted.
    pub qcs: u32,
    /// QCM wanted.
    pub qcm: u32,
    /// QROC wanted.
    pub qroc: u32,
    /// `easy`, `medium` or `hard`.
    pub difficulty: String,
    /// `fr`, `ar` or `en`.
    pub language: String,
    /// `queued`, `running`, `done`, `failed` (nothing saved) or `cancelled`.
    pub outcome: String,
    /// When it was asked.
    pub created_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Drafts created.
    pub drafts_created: u32,
    /// Tokens used (every call, a failed request's too).
    pub tokens: u64,
    /// The refused items (chunk, position, reason `code`, `message`, the stem's first
    /// characters as `excerpt`).
    pub refused: Vec<Rejection>,
    /// Why a failed request failed.
    pub error: Option<String>,
}

impl RequestDetails {
    fn of(r: GenerationRequestRow) -> Self {
        let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
        let count = |n: i32| u32::try_from(n).unwrap_or(0);
        Self {
            course: r.course,
            kcs: serde_json::from_str(&r.kcs).unwrap_or_default(),
            qcs: count(r.qcs),
            qcm: count(r.qcm),
            qroc: count(r.qroc),
            difficulty: r.difficulty,
            language: r.language,
            outcome: r.status,
            created_at: at(r.created_at),
            finished_at: r.finished_at.map(at),
            drafts_created: count(r.drafts_created),
            tokens: u64::try_from(r.tokens).unwrap_or(0),
            refused: serde_json::from_str(&r.refusals).unwrap_or_default(),
            error: r.error,
        }
    }
}

impl GenerationView {
    fn of(id: Uuid, j: JobRow, row: Option<GenerationRequestRow>) -> Self {
        let status = j.status.as_str().to_owned();
        Self {
            id,
            job_id: j.id,
            finished: matches!(status.as_str(), "done" | "dead" | "cancelled"),
            status,
            progress: j.progress,
            message: j.progress_message,
            error: j.last_error,
            details: row.map(RequestDetails::of),
        }
    }
}

/// How a request ended (or that it started), for [`record_outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The job took it.
    Running,
    /// Drafts saved (maybe none), items refused.
    Done {
        /// Drafts created.
        drafts: usize,
        /// Refused items.
        refused: Vec<Rejection>,
    },
    /// Failed with nothing saved.
    Failed(String),
    /// Cancelled with nothing saved.
    Cancelled,
}

/// Records the outcome of request `id` on its row, with the tokens its calls used (from the
/// accounting).
///
/// # Errors
/// Storage failures.
pub async fn record_outcome(
    db: &DatabaseConnection,
    id: Uuid,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let tokens = super::usage::of_request(db, &id.to_string()).await?.tokens;
    let finished = Some(now.timestamp_millis());
    let (status, finished_at, drafts, refused, error) = match outcome {
        Outcome::Running => ("running", None, 0, Vec::new(), None),
        Outcome::Done { drafts, refused } => ("done", finished, drafts, refused, None),
        Outcome::Failed(e) => ("failed", finished, 0, Vec::new(), Some(e)),
        Outcome::Cancelled => ("cancelled", finished, 0, Vec::new(), None),
    };
    myqcm_db::ai::set_request_outcome(
        db,
        id,
        &RequestOutcome {
            status: status.into(),
            finished_at,
            drafts_created: i32::try_from(drafts).unwrap_or(i32::MAX),
            tokens: i64::try_from(tokens).unwrap_or(i64::MAX),
            refusals: serde_json::to_string(&refused).unwrap_or_else(|_| "[]".into()),
            error,
        },
    )
    .await
}

/// Why a request was refused. Messages are shown to the author.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No language model is configured: AI assistance does not exist here.
    #[error("AI generation is not available")]
    Unavailable,
    /// The caller may not generate items.
    #[error("only authors and content admins may generate items")]
    Forbidden,
    /// No such request (or not the caller's).
    #[error("no such generation request")]
    NotFound,
    /// A field is wrong.
    #[error("{field}: {message}")]
    Invalid {
        /// Form field.
        field: &'static str,
        /// What to fix.
        message: String,
    },
    /// The document was refused.
    #[error(transparent)]
    Document(#[from] IngestError),
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] DbError),
    /// Blob store failure.
    #[error("storing the document failed: {0}")]
    Blob(String),
    /// The requester's daily token limit is reached: nothing was queued.
    #[error(transparent)]
    DailyLimit(DailyLimit),
}

impl From<UsageError> for RequestError {
    fn from(e: UsageError) -> Self {
        match e {
            UsageError::Limit(l) => Self::DailyLimit(l),
            UsageError::Store(s) => Self::Store(s),
            UsageError::Unavailable => Self::Unavailable,
            UsageError::Forbidden => Self::Forbidden,
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> RequestError {
    RequestError::Invalid {
        field,
        message: message.into(),
    }
}

/// The name of a `names` JSON (`{"fr": …}`) in `locale`, else any.
fn name_in(names: &str, locale: &str, code: &str) -> String {
    let map: BTreeMap<String, String> = serde_json::from_str(names).unwrap_or_default();
    map.get(locale)
        .or_else(|| map.values().next())
        .cloned()
        .unwrap_or_else(|| code.to_owned())
}

fn job_key(id: Uuid) -> String {
    format!("{KIND}/{id}")
}

/// Checks everything (the requester's daily token limit too), stores the document and queues
/// the job.
///
/// # Errors
/// See [`RequestError`].
#[allow(clippy::too_many_arguments, reason = "one use case")]
pub async fn start(
    db: &DatabaseConnection,
    blobs: &dyn BlobStore,
    llm_configured: bool,
    policy: UsagePolicy,
    actor: &Actor,
    document: Bytes,
    req: GenerationRequest,
    now: DateTime<Utc>,
) -> Result<GenerationView, RequestError> {
    if !llm_configured {
        return Err(RequestError::Unavailable);
    }
    drafts::may_generate(actor).map_err(|_| RequestError::Forbidden)?;
    let difficulty: Difficulty = req
        .difficulty
        .parse()
        .map_err(|_| invalid("difficulty", "difficulty is easy, medium or hard"))?;
    let locale: Locale = req
        .language
        .parse()
        .map_err(|_| invalid("language", "language is fr, ar or en"))?;
    let spec = GenerationSpec {
        course: String::new(),
        kcs: vec![],
        qcs: req.qcs,
        qcm: req.qcm,
        qroc: req.qroc,
        difficulty,
        locale,
    };
    if let Err(AiError::BadCounts) = drafts::check_counts(&spec) {
        return Err(invalid("counts", AiError::BadCounts.to_string()));
    }
    let lang = req.language.trim().to_owned();
    let course = myqcm_db::catalogue::course_by_code(db, req.course.trim())
        .await?
        .ok_or_else(|| invalid("course", "no course has this code"))?;
    if req.kcs.is_empty() {
        return Err(invalid("kcs", "choose at least one knowledge component"));
    }
    let mut kc_names = Vec::with_capacity(req.kcs.len());
    for code in &req.kcs {
        let kc = myqcm_db::catalogue::kc_by_code(db, code.trim())
            .await?
            .ok_or_else(|| invalid("kcs", format!("no knowledge component has the code {code}")))?;
        kc_names.push(name_in(&kc.names, &lang, &kc.code));
    }
    if document.is_empty() {
        return Err(invalid("file", "choose a document"));
    }
    let kind = ingest::sniff(&document, &LIMITS)?;
    usage::check_author(db, policy, actor.id, now).await?;
    let id = Uuid::now_v7();
    let blob_key = format!("ai/{}.{}", id.simple(), kind.as_str());
    blobs
        .put(&blob_key, document)
        .await
        .map_err(|e| RequestError::Blob(e.to_string()))?;
    let payload = GeneratePayload {
        request_id: id,
        blob_key,
        requester: actor.id,
        roles: actor.roles.iter().map(ToString::to_string).collect(),
        scopes: actor.scopes.iter().map(ToString::to_string).collect(),
        mfa_enrolled: actor.mfa_enrolled,
        course_title: name_in(&course.names, &lang, &course.code),
        course: course.code,
        kcs: req.kcs.iter().map(|k| k.trim().to_owned()).collect(),
        kc_names,
        qcs: req.qcs,
        qcm: req.qcm,
        qroc: req.qroc,
        difficulty: req.difficulty.trim().to_owned(),
        locale: lang,
    };
    let row = GenerationRequestRow {
        id,
        requester_id: actor.id,
        course: payload.course.clone(),
        kcs: serde_json::to_string(&payload.kcs).unwrap_or_else(|_| "[]".into()),
        qcs: i32::try_from(payload.qcs).unwrap_or(0),
        qcm: i32::try_from(payload.qcm).unwrap_or(0),
        qroc: i32::try_from(payload.qroc).unwrap_or(0),
        difficulty: payload.difficulty.clone(),
        language: payload.locale.clone(),
        status: "queued".into(),
        created_at: now.timestamp_millis(),
        finished_at: None,
        drafts_created: 0,
        tokens: 0,
        refusals: "[]".into(),
        error: None,
    };
    let payload = serde_json::to_value(payload).map_err(|e| DbError::Backend(e.to_string()))?;
    let mut job = NewJob::new(KIND, payload, now);
    // A model failure is retried by the client already; a second attempt would bill again.
    job.max_attempts = 1;
    job.idempotency_key = Some(job_key(id));
    let txn = myqcm_db::begin_write(db).await?;
    myqcm_db::ai::insert_request(&txn, &row).await?;
    let job_id = myqcm_db::jobs::enqueue(&txn, &job, now).await?;
    txn.commit().await.map_err(DbError::from)?;
    Ok(GenerationView::of(
        id,
        myqcm_db::jobs::get(db, job_id).await?,
        Some(row),
    ))
}

/// The job of request `id`, when the caller may see it (its requester, or a content admin).
async fn own_job(
    db: &DatabaseConnection,
    llm_configured: bool,
    actor: &Actor,
    id: Uuid,
) -> Result<JobRow, RequestError> {
    if !llm_configured {
        return Err(RequestError::Unavailable);
    }
    drafts::may_generate(actor).map_err(|_| RequestError::Forbidden)?;
    let job = myqcm_db::jobs::id_by_idempotency_key(db, &job_key(id))
        .await?
        .ok_or(RequestError::NotFound)?;
    let row = myqcm_db::jobs::get(db, job).await?;
    let requester = serde_json::from_value::<GeneratePayload>(row.payload.clone())
        .map(|p| p.requester)
        .ok();
    if row.kind == KIND && (requester == Some(actor.id) || actor.can(Action::CatalogueManage)) {
        Ok(row)
    } else {
        Err(RequestError::NotFound)
    }
}

/// Request `id` with its progress and, once done, its summary.
///
/// # Errors
/// [`RequestError::NotFound`] for another author's request; see [`RequestError`].
pub async fn get(
    db: &DatabaseConnection,
    llm_configured: bool,
    actor: &Actor,
    id: Uuid,
) -> Result<GenerationView, RequestError> {
    let row = own_job(db, llm_configured, actor, id).await?;
    let record = myqcm_db::ai::request(db, id).await?;
    Ok(GenerationView::of(id, row, record))
}

/// A draft a request made, as its status page links it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestDraft {
    /// Item id.
    pub id: Uuid,
    /// Its language.
    pub locale: String,
    /// The first characters of the stem as generated.
    pub excerpt: String,
}

/// The drafts request `id` made (at most 300, the most a request can make), oldest first: the
/// requester's items whose first revision carries the request's provenance marker. Visible to
/// whoever may see the request.
///
/// # Errors
/// As [`get`].
pub async fn drafts_of(
    db: &DatabaseConnection,
    llm_configured: bool,
    actor: &Actor,
    id: Uuid,
) -> Result<Vec<RequestDraft>, RequestError> {
    let row = own_job(db, llm_configured, actor, id).await?;
    let Ok(p) = serde_json::from_value::<GeneratePayload>(row.payload) else {
        return Ok(Vec::new());
    };
    let marker = super::generate::request_marker(&id.to_string());
    let revs = myqcm_db::catalogue::first_revisions_marked(db, p.requester, &marker, 300).await?;
    Ok(revs
        .into_iter()
        .filter_map(|r| {
            let c = crate::catalogue::parse_content(&r).ok()?;
            Some(RequestDraft {
                id: r.item_id,
                locale: c.locale.as_str().to_owned(),
                excerpt: crate::catalogue::desk::excerpt(&c.stem),
            })
        })
        .collect())
}

/// The live events of request `id`'s job, as the jobs stream gives them.
///
/// # Errors
/// As [`get`].
pub async fn watch(
    db: &DatabaseConnection,
    cache: &dyn myqcm_domain::ports::Cache,
    llm_configured: bool,
    actor: &Actor,
    id: Uuid,
) -> Result<futures::stream::BoxStream<'static, JobEvent>, RequestError> {
    let row = own_job(db, llm_configured, actor, id).await?;
    crate::jobs::stream(db, cache, row.id)
        .await
        .map_err(|e| RequestError::Store(DbError::Backend(e.to_string())))
}
