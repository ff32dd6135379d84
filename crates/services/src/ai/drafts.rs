//! A generation request from document to drafts: ingestion, one model call per planned chunk
//! (with progress and cancellation between calls), validation, then — only when every call
//! succeeded — the valid items saved as drafts authored by the requester through the catalogue's
//! own use case, so they go through the normal review and stay invisible to learners.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use myqcm_db::DatabaseConnection;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Action;
use myqcm_domain::ports::{LanguageModel, LlmError};
use uuid::Uuid;

use super::generate::{self, Accepted, GenerationSpec, Rejection};
use super::ingest::{self, DocKind, IngestError, IngestLimits};
use super::usage::{CallOutcome, DailyLimit, Meter, UsageError};
use crate::catalogue::{self, CatalogueError, KcInput, NewItemInput};

/// Most items of one type per request.
pub const MAX_PER_TYPE: u32 = 100;

/// Why a generation request failed. Messages are shown to the author.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    /// The caller may not author items.
    #[error("only authors and content admins may generate items")]
    Forbidden,
    /// Counts out of range.
    #[error("ask for 1 to {MAX_PER_TYPE} items of each type, at least one in total")]
    BadCounts,
    /// The document was refused.
    #[error(transparent)]
    Document(#[from] IngestError),
    /// The model failed after its retries; nothing was saved.
    #[error("generation failed and nothing was saved: {0}")]
    Model(#[from] LlmError),
    /// Cancelled by the requester; nothing was saved.
    #[error("cancelled; nothing was saved")]
    Cancelled,
    /// Saving a draft failed.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    /// The requester's daily token limit was reached before a call; nothing was saved.
    #[error("generation stopped and nothing was saved: {0}")]
    DailyLimit(DailyLimit),
    /// Recording a call failed.
    #[error(transparent)]
    Store(#[from] myqcm_db::DbError),
}

impl From<UsageError> for AiError {
    fn from(e: UsageError) -> Self {
        match e {
            UsageError::Limit(l) => Self::DailyLimit(l),
            UsageError::Store(s) => Self::Store(s),
            UsageError::Unavailable | UsageError::Forbidden => Self::Forbidden,
        }
    }
}

/// Everything the model gave for one request, validated, before anything is saved.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// What the document was.
    pub kind: Option<DocKind>,
    /// Chunks the document was cut into.
    pub chunks: usize,
    /// Chunks sent to the model.
    pub calls: usize,
    /// Valid items.
    pub accepted: Vec<Accepted>,
    /// Refused items with reasons.
    pub rejected: Vec<Rejection>,
    /// Tokens billed.
    pub tokens: u64,
}

/// Whether `actor` may request generation (authors and content admins).
///
/// # Errors
/// [`AiError::Forbidden`].
pub fn may_generate(actor: &Actor) -> Result<(), AiError> {
    if actor.can(Action::ItemAuthor) || actor.can(Action::CatalogueManage) {
        Ok(())
    } else {
        Err(AiError::Forbidden)
    }
}

/// Checks the requested counts.
///
/// # Errors
/// [`AiError::BadCounts`].
pub fn check_counts(spec: &GenerationSpec) -> Result<(), AiError> {
    let counts = [spec.qcs, spec.qcm, spec.qroc];
    if counts.iter().any(|n| *n > MAX_PER_TYPE) || counts.iter().all(|n| *n == 0) {
        return Err(AiError::BadCounts);
    }
    Ok(())
}

/// Ingests `document`, calls the model for each planned chunk and validates the answers.
/// `existing` holds the normalised stems of the course's items (duplicates are refused).
/// `progress(done, total)` is called after each call; `cancelled()` is checked before each.
/// Any model failure or a cancellation ends the whole request with nothing kept.
/// With a `meter`, every call is recorded as it is answered, and the requester's daily token
/// limit is checked before each call: reaching it ends the request like a failure (nothing
/// kept; the calls already made stay recorded, they were billed).
///
/// # Errors
/// See [`AiError`].
#[allow(
    clippy::too_many_arguments,
    reason = "one use case, called from the job"
)]
pub async fn collect(
    meter: Option<&Meter<'_>>,
    llm: &dyn LanguageModel,
    request_id: &str,
    spec: &GenerationSpec,
    document: &[u8],
    limits: &IngestLimits,
    mut existing: HashSet<String>,
    progress: &(dyn Fn(usize, usize) + Send + Sync),
    cancelled: &(dyn Fn() -> bool + Send + Sync),
) -> Result<Collected, AiError> {
    check_counts(spec)?;
    let (kind, sections) = ingest::extract(document, limits)?;
    let chunks = ingest::chunk(&sections, limits.chunk_chars);
    let plans = generate::plan(spec, chunks.len());
    let work: Vec<_> = chunks
        .iter()
        .zip(plans)
        .filter(|(_, w)| w.total() > 0)
        .collect();
    let mut out = Collected {
        kind: Some(kind),
        chunks: chunks.len(),
        ..Collected::default()
    };
    for (done, (chunk, wanted)) in work.iter().enumerate() {
        if cancelled() {
            return Err(AiError::Cancelled);
        }
        if let Some(m) = meter {
            m.check().await?;
        }
        let answered =
            generate::generate_chunk(llm, request_id, spec, *wanted, chunk, &mut existing).await;
        let o = match answered {
            Ok(o) => o,
            Err(e) => {
                // An unusable reply was billed: it counts before the request fails.
                if let Some(m) = meter {
                    m.record_failure(&e).await?;
                }
                return Err(e.into());
            }
        };
        if let Some(m) = meter {
            m.record(&o.usage, CallOutcome::Ok).await?;
        }
        out.calls += 1;
        out.accepted.extend(o.accepted);
        out.rejected.extend(o.rejected);
        out.tokens += o.tokens;
        progress(done + 1, work.len());
    }
    tracing::info!(
        request = request_id,
        chunks = out.chunks,
        calls = out.calls,
        accepted = out.accepted.len(),
        rejected = out.rejected.len(),
        tokens = out.tokens,
        "generation collected"
    );
    Ok(out)
}

/// The normalised stems of every item of `course` (any status): generated items repeating
/// one are refused as duplicates.
///
/// # Errors
/// An unknown course or a storage failure.
pub async fn existing_stems(
    db: &DatabaseConnection,
    course: &str,
) -> Result<HashSet<String>, AiError> {
    let store = |e: myqcm_db::DbError| AiError::Catalogue(CatalogueError::Store(e));
    let course = myqcm_db::catalogue::course_by_code(db, course.trim())
        .await
        .map_err(store)?
        .ok_or(AiError::Catalogue(CatalogueError::NotFound))?;
    let revisions = myqcm_db::catalogue::current_revisions_of_course(db, course.id)
        .await
        .map_err(store)?;
    let mut out = HashSet::with_capacity(revisions.len());
    for rev in &revisions {
        let content = crate::catalogue::parse_content(rev)?;
        out.insert(myqcm_domain::catalogue::qroc::normalise_loose(
            &content.stem,
        ));
    }
    Ok(out)
}

/// Saves accepted items as drafts of `actor` in `course`, tagged with `kcs`, through the
/// catalogue's use case (the same checks as a hand-written draft). Returns the new item ids.
///
/// # Errors
/// The first catalogue refusal.
pub async fn save_drafts(
    db: &DatabaseConnection,
    actor: &Actor,
    course: &str,
    kcs: &[String],
    accepted: Vec<Accepted>,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, AiError> {
    may_generate(actor)?;
    let mut ids = Vec::with_capacity(accepted.len());
    for a in accepted {
        let input = NewItemInput {
            course: course.to_owned(),
            content: a.content,
            kcs: kcs
                .iter()
                .map(|k| KcInput {
                    kc: k.clone(),
                    weight: 1.0,
                })
                .collect(),
            translation_of: None,
            external_id: None,
        };
        let view = catalogue::create_item(db, actor, input, now).await?;
        ids.push(view.id);
    }
    Ok(ids)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use myqcm_domain::catalogue::{Difficulty, Locale};
    use myqcm_domain::permissions::Role;
    use myqcm_integrations::llm::{LlmSettings, OpenAiCompatible};
    use myqcm_testkit::fake_llm::FakeLlm;

    use super::*;
    use crate::ai::ingest::LIMITS;

    fn spec() -> GenerationSpec {
        GenerationSpec {
            course: "Cardiology".into(),
            kcs: vec![],
            qcs: 1,
            qcm: 3,
            qroc: 1,
            difficulty: Difficulty::Hard,
            locale: Locale::Fr,
        }
    }

    fn client(fake: &FakeLlm) -> OpenAiCompatible {
        let mut s = LlmSettings::new(&fake.api_base, fake.key.clone(), "fake-model".into());
        s.min_backoff = Duration::from_millis(5);
        s.max_backoff = Duration::from_millis(20);
        s.max_retries = 2;
        OpenAiCompatible::new(s).unwrap()
    }

    fn pages() -> Vec<u8> {
        ingest::sample_pdf(&[
            "Le coeur a quatre cavites.",
            "L'aorte nait du ventricule gauche.",
            "La systole est la phase de contraction.",
        ])
        .unwrap()
    }

    /// Small chunks, so the three pages make several calls.
    fn small() -> IngestLimits {
        IngestLimits {
            chunk_chars: 100,
            ..LIMITS
        }
    }

    #[tokio::test]
    async fn a_document_gives_valid_items_over_several_calls_with_progress() {
        let fake = FakeLlm::start("k").await.unwrap();
        let seen = Mutex::new(Vec::new());
        let out = collect(
            None,
            &client(&fake),
            "req-9",
            &spec(),
            &pages(),
            &small(),
            HashSet::new(),
            &|d, t| seen.lock().unwrap().push((d, t)),
            &|| false,
        )
        .await
        .unwrap();
        assert_eq!(out.kind, Some(DocKind::Pdf));
        assert!(out.calls >= 2, "{out:?}");
        assert_eq!(out.accepted.len(), 5);
        assert!(out.rejected.is_empty());
        let progress = seen.lock().unwrap().clone();
        assert_eq!(progress.last(), Some(&(out.calls, out.calls)));
        let keys: Vec<String> = fake
            .calls()
            .iter()
            .filter_map(|c| c.idempotency_key.clone())
            .collect();
        assert!(keys.iter().all(|k| k.starts_with("req-9/")));
        let distinct: HashSet<&String> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len(), "one key per chunk");
    }

    #[tokio::test]
    async fn a_failing_model_or_a_cancellation_keeps_nothing() {
        let fake = FakeLlm::start("k").await.unwrap();
        // The first chunk succeeds, then the server fails for good.
        let llm = client(&fake);
        fake.knobs(|k| k.delay_ms = 0);
        let fake_ref = &fake;
        let err = collect(
            None,
            &llm,
            "req-10",
            &spec(),
            &pages(),
            &small(),
            HashSet::new(),
            &|_, _| fake_ref.knobs(|k| k.fail_next = 100),
            &|| false,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, AiError::Model(LlmError::Unavailable(_))),
            "{err:?}"
        );
        assert!(err.to_string().contains("nothing was saved"));
        let err = collect(
            None,
            &client(&fake),
            "req-11",
            &spec(),
            &pages(),
            &small(),
            HashSet::new(),
            &|_, _| {},
            &|| true,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, AiError::Cancelled));
    }

    #[tokio::test]
    async fn a_429_then_success_is_retried_and_malformed_output_fails_clearly() {
        let fake = FakeLlm::start("k").await.unwrap();
        fake.knobs(|k| k.rate_limit_next = 1);
        let out = collect(
            None,
            &client(&fake),
            "req-12",
            &spec(),
            b"Le coeur a quatre cavites. L'aorte nait du ventricule gauche.",
            &LIMITS,
            HashSet::new(),
            &|_, _| {},
            &|| false,
        )
        .await
        .unwrap();
        assert_eq!(out.accepted.len(), 5);
        fake.knobs(|k| k.malformed = true);
        let err = collect(
            None,
            &client(&fake),
            "req-13",
            &spec(),
            b"Le coeur a quatre cavites.",
            &LIMITS,
            HashSet::new(),
            &|_, _| {},
            &|| false,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, AiError::Model(LlmError::Malformed { .. })),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn valid_items_become_drafts_of_the_requester_only() {
        let db = myqcm_testkit::test_db().await.unwrap();
        let c = &db.conn;
        let names = r#"{"fr":"Cardiologie","en":"Cardiology"}"#;
        let subject = myqcm_db::catalogue::upsert_subject(c, "cardio", 2, None, names)
            .await
            .unwrap();
        myqcm_db::catalogue::upsert_course(c, "cardio-1", subject.id, names)
            .await
            .unwrap();
        myqcm_db::catalogue::upsert_kc(c, "kc-cycle", subject.id, None, "kc", names, 1)
            .await
            .unwrap();
        let fake = FakeLlm::start("k").await.unwrap();
        fake.knobs(|k| k.wrong_correct = true);
        let out = collect(
            None,
            &client(&fake),
            "req-20",
            &spec(),
            &pages(),
            &LIMITS,
            HashSet::new(),
            &|_, _| {},
            &|| false,
        )
        .await
        .unwrap();
        assert_eq!((out.accepted.len(), out.rejected.len()), (4, 1));
        let author = Actor {
            id: Uuid::now_v7(),
            roles: vec![Role::Author],
            scopes: vec![],
            mfa_enrolled: false,
        };
        let learner = Actor {
            id: Uuid::now_v7(),
            roles: vec![Role::Student],
            ..author.clone()
        };
        let refused = save_drafts(
            c,
            &learner,
            "cardio-1",
            &["kc-cycle".into()],
            out.accepted.clone(),
            Utc::now(),
        )
        .await;
        assert!(matches!(refused, Err(AiError::Forbidden)));
        let ids = save_drafts(
            c,
            &author,
            "cardio-1",
            &["kc-cycle".into()],
            out.accepted,
            Utc::now(),
        )
        .await
        .unwrap();
        assert_eq!(ids.len(), 4);
        for id in ids {
            let item = myqcm_db::catalogue::item_by_id(c, id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(item.status, "draft");
            assert_eq!(item.author_id, author.id);
        }
    }

    #[test]
    fn learners_may_not_generate_and_counts_are_bounded() {
        let learner = Actor {
            id: Uuid::nil(),
            roles: vec![Role::Student],
            scopes: vec![],
            mfa_enrolled: false,
        };
        assert!(matches!(may_generate(&learner), Err(AiError::Forbidden)));
        let author = Actor {
            roles: vec![Role::Author],
            ..learner
        };
        assert!(may_generate(&author).is_ok());
        let mut s = spec();
        s.qcm = 101;
        assert!(matches!(check_counts(&s), Err(AiError::BadCounts)));
        let none = GenerationSpec {
            qcs: 0,
            qcm: 0,
            qroc: 0,
            ..spec()
        };
        assert!(matches!(check_counts(&none), Err(AiError::BadCounts)));
    }
}
