//! `ai.generate`: one generation request as a job (issue 15). The payload names the uploaded
//! document in the blob store, the requester (a snapshot of the roles checked when the request
//! was accepted; `save_drafts` checks them again), the course, KCs and counts. The job reports
//! progress per model call, stops at a cancellation with nothing saved, fails with the model's
//! error and nothing saved, and otherwise saves the valid items as drafts of the requester and
//! leaves a summary (ids created, refusals with reasons, tokens) as its last progress message.
//! When the requester's account is erased meanwhile (the payload is replaced by an erasure
//! marker), the job stops before its next call or before saving, with nothing saved.
//!
//! Registered with the worker only when the LLM is configured; queued by
//! `POST /api/v1/ai/generations` (`myqcm_services::ai::requests`, see `docs/AI.md`).

use std::sync::Arc;

use async_trait::async_trait;
use myqcm_db::DatabaseConnection;
use myqcm_domain::Clock;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::catalogue::{Difficulty, Locale};
use myqcm_domain::ports::{BlobStore, LanguageModel};
use myqcm_jobs::{Interrupted, JobContext, JobHandler};
use myqcm_services::ai::drafts::{self, AiError};
use myqcm_services::ai::generate::GenerationSpec;
use myqcm_services::ai::ingest::LIMITS;
use myqcm_services::ai::usage::{Billing, CallKind, UsagePolicy};
use myqcm_services::ai::{grading, kcs, privacy};
use serde::Serialize;
use uuid::Uuid;

pub use myqcm_services::ai::requests::GeneratePayload;
use myqcm_services::ai::requests::{self, Outcome};

/// What a finished request produced; [`GenerateSummary::message`] is left as the job's last
/// progress message.
#[derive(Debug, Clone, Serialize)]
pub struct GenerateSummary {
    /// Drafts created.
    pub created: Vec<Uuid>,
    /// Refused items with reasons.
    pub rejected: Vec<myqcm_services::ai::generate::Rejection>,
    /// Tokens billed.
    pub tokens: u64,
}

impl GenerateSummary {
    /// `"<n> drafts created; <m> refused (<code> ×<count>, …); <t> tokens"`.
    pub fn message(&self) -> String {
        let mut codes: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for r in &self.rejected {
            *codes.entry(r.code.as_str()).or_default() += 1;
        }
        let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
        format!(
            "{} drafts created; {} refused ({}); {} tokens",
            self.created.len(),
            self.rejected.len(),
            codes.join(", "),
            self.tokens
        )
    }
}

/// The handler.
pub struct AiGenerateJob {
    /// Database.
    pub db: DatabaseConnection,
    /// Prices and the daily limit (every call is recorded, billed to the requester).
    pub usage: UsagePolicy,
    /// Where uploads are.
    pub blobs: Arc<dyn BlobStore>,
    /// The model.
    pub llm: Arc<dyn LanguageModel>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
}

impl AiGenerateJob {
    /// The job kind.
    pub const KIND: &'static str = myqcm_services::ai::requests::KIND;
}

fn actor(p: &GeneratePayload) -> Actor {
    Actor {
        id: p.requester,
        roles: p.roles.iter().filter_map(|r| r.parse().ok()).collect(),
        scopes: p.scopes.iter().filter_map(|s| s.parse().ok()).collect(),
        mfa_enrolled: p.mfa_enrolled,
    }
}

fn spec(p: &GeneratePayload) -> anyhow::Result<GenerationSpec> {
    Ok(GenerationSpec {
        course: p.course_title.clone(),
        kcs: p.kc_names.clone(),
        qcs: p.qcs,
        qcm: p.qcm,
        qroc: p.qroc,
        difficulty: p
            .difficulty
            .parse::<Difficulty>()
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        locale: p
            .locale
            .parse::<Locale>()
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    })
}

impl AiGenerateJob {
    /// The work of [`JobHandler::run`], returning the summary.
    ///
    /// # Errors
    /// A refused requester or document, the model's failure (nothing saved), a cancellation.
    pub async fn execute(
        &self,
        payload: serde_json::Value,
        ctx: &JobContext,
    ) -> anyhow::Result<GenerateSummary> {
        let p: GeneratePayload = serde_json::from_value(payload)?;
        // The requester's account was erased once this attempt began: nothing is asked.
        if privacy::requester_erased(&self.db, ctx.job_id).await? {
            return Err(Interrupted::Cancelled.into());
        }
        let actor = actor(&p);
        drafts::may_generate(&actor)?;
        let spec = spec(&p)?;
        let bytes = self.blobs.get(&p.blob_key).await?;
        ctx.set_progress(0.0, "reading the document");
        let progress = |done: usize, total: usize| {
            #[allow(clippy::cast_precision_loss, reason = "chunk counts are small")]
            let f = done as f64 / total.max(1) as f64;
            ctx.set_progress(f * 0.9, format!("{done} / {total}"));
        };
        let cancelled = || ctx.is_cancelled();
        let meter = Billing {
            clock: self.clock.as_ref(),
            policy: self.usage,
        }
        .meter(
            &self.db,
            CallKind::Generation,
            Some(p.requester),
            Some(p.request_id.to_string()),
        );
        let collected = match drafts::collect(
            Some(&meter),
            self.llm.as_ref(),
            &p.request_id.to_string(),
            &spec,
            &bytes,
            &LIMITS,
            drafts::existing_stems(&self.db, &p.course).await?,
            &progress,
            &cancelled,
        )
        .await
        {
            Err(AiError::Cancelled) => return Err(Interrupted::Cancelled.into()),
            other => other?,
        };
        ctx.checkpoint().await?;
        // The requester's account was erased while the model answered: nothing is saved.
        if privacy::requester_erased(&self.db, ctx.job_id).await? {
            return Err(Interrupted::Cancelled.into());
        }
        let created = drafts::save_drafts(
            &self.db,
            &actor,
            &p.course,
            &p.kcs,
            collected.accepted,
            self.clock.now(),
        )
        .await?;
        Ok(GenerateSummary {
            created,
            rejected: collected.rejected,
            tokens: collected.tokens,
        })
    }
}

#[async_trait]
impl JobHandler for AiGenerateJob {
    async fn run(&self, payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()> {
        let p = serde_json::from_value::<GeneratePayload>(payload.clone())?;
        let id = p.request_id;
        requests::record_outcome(&self.db, id, Outcome::Running, self.clock.now()).await?;
        match self.execute(payload, &ctx).await {
            Ok(summary) => {
                let outcome = Outcome::Done {
                    drafts: summary.created.len(),
                    refused: summary.rejected.clone(),
                };
                requests::record_outcome(&self.db, id, outcome, self.clock.now()).await?;
                ctx.set_progress(1.0, summary.message());
                Ok(())
            }
            Err(e) => {
                // Calls answered after the requester's erasure are billed to no one.
                if privacy::requester_erased(&self.db, ctx.job_id).await? {
                    privacy::after_erasure(&self.db, p.requester).await?;
                }
                let outcome = match e.downcast_ref::<Interrupted>() {
                    Some(Interrupted::Cancelled) => Outcome::Cancelled,
                    // Another worker holds the job now: its attempt records the outcome.
                    Some(Interrupted::LeaseLost) => return Err(e),
                    None => Outcome::Failed(e.to_string()),
                };
                requests::record_outcome(&self.db, id, outcome, self.clock.now()).await?;
                Err(e)
            }
        }
    }
}

/// `ai.suggest_kcs`: KC suggestions for every item of a course (issue 15), one model call per
/// item, progress after each, stopped by a cancellation (what was stored stays). Registered
/// only when the LLM is configured; queued by `POST /api/v1/ai/kc-suggestion-runs`.
pub struct AiSuggestKcsJob {
    /// Database.
    pub db: DatabaseConnection,
    /// Prices and the daily limit (billed to the run's requester).
    pub usage: UsagePolicy,
    /// The model.
    pub llm: Arc<dyn LanguageModel>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
}

impl AiSuggestKcsJob {
    /// The job kind.
    pub const KIND: &'static str = kcs::KIND;
}

#[async_trait]
impl JobHandler for AiSuggestKcsJob {
    async fn run(&self, payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()> {
        let p: kcs::RunPayload = serde_json::from_value(payload)?;
        let (actor, ids) = kcs::run_plan(&self.db, &p).await?;
        let total = ids.len();
        let mut s = kcs::RunSummary {
            items: total,
            ..kcs::RunSummary::default()
        };
        ctx.progress(0.0, format!("0 / {total}")).await?;
        for (i, id) in ids.into_iter().enumerate() {
            // The requester's account was erased meanwhile: nothing more is asked or stored.
            if privacy::requester_erased(&self.db, ctx.job_id).await? {
                privacy::after_erasure(&self.db, p.requester).await?;
                return Err(Interrupted::Cancelled.into());
            }
            let billing = Billing {
                clock: self.clock.as_ref(),
                policy: self.usage,
            };
            let one = kcs::run_one(
                &self.db,
                self.llm.as_ref(),
                billing,
                &actor,
                (p.run_id, id),
                self.clock.now(),
            )
            .await?;
            match one {
                Ok(v) => {
                    s.tokens += v.tokens;
                    s.suggested += usize::from(!v.suggestions.is_empty());
                }
                Err(_) => s.failed += 1,
            }
            #[allow(clippy::cast_precision_loss, reason = "item counts are small")]
            let f = (i + 1) as f64 / total.max(1) as f64;
            ctx.progress(f, format!("{} / {total}", i + 1)).await?;
        }
        // Erased during the last item's call: that call is billed to no one either.
        if privacy::requester_erased(&self.db, ctx.job_id).await? {
            privacy::after_erasure(&self.db, p.requester).await?;
            return Err(Interrupted::Cancelled.into());
        }
        ctx.set_progress(1.0, s.message());
        Ok(())
    }
}

/// `ai.grade_qroc`: the language model's grade of one QROC answer the tolerant match was unsure
/// about (issue 15). Queued by the answer path in its transaction; registered only when the LLM
/// is configured. A model failure leaves the answer ungraded (the job still succeeds); a grade
/// updates the learner's state like an on-the-spot grade.
pub struct AiGradeQrocJob {
    /// Database.
    pub db: DatabaseConnection,
    /// Prices (the call is recorded with no author: the learner is never named).
    pub usage: UsagePolicy,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// The model.
    pub llm: Arc<dyn LanguageModel>,
    /// The training use cases (a grade updates the learner's state).
    pub training: myqcm_services::training::Training,
}

impl AiGradeQrocJob {
    /// The job kind.
    pub const KIND: &'static str = grading::KIND;
}

#[async_trait]
impl JobHandler for AiGradeQrocJob {
    async fn run(&self, payload: serde_json::Value, ctx: JobContext) -> anyhow::Result<()> {
        let p: grading::GradePayload = serde_json::from_value(payload)?;
        let meter = Billing {
            clock: self.clock.as_ref(),
            policy: self.usage,
        }
        .meter(
            &self.db,
            CallKind::Grading,
            None,
            Some(format!("job/{}", ctx.job_id)),
        );
        let done = grading::grade_attempt(
            &self.db,
            self.llm.as_ref(),
            &meter,
            &self.training,
            p.attempt_id,
        )
        .await?;
        ctx.set_progress(1.0, format!("{done:?}"));
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]
mod tests {
    use std::time::Duration;

    use myqcm_domain::SystemClock;
    use myqcm_integrations::FsBlobStore;
    use myqcm_integrations::llm::{LlmSettings, OpenAiCompatible};
    use myqcm_testkit::fake_llm::FakeLlm;

    use super::*;

    async fn setup(
        fake: &FakeLlm,
        dir: &std::path::Path,
    ) -> (AiGenerateJob, DatabaseConnection, myqcm_testkit::TestDb) {
        let db = myqcm_testkit::test_db().await.unwrap();
        let c = db.conn.clone();
        let names = r#"{"en":"Cardiology"}"#;
        let subject = myqcm_db::catalogue::upsert_subject(&c, "cardio", 2, None, names)
            .await
            .unwrap();
        myqcm_db::catalogue::upsert_course(&c, "cardio-1", subject.id, names)
            .await
            .unwrap();
        myqcm_db::catalogue::upsert_kc(&c, "kc-1", subject.id, None, "kc", names, 1)
            .await
            .unwrap();
        let mut s = LlmSettings::new(&fake.api_base, fake.key.clone(), "fake-model".into());
        s.min_backoff = Duration::from_millis(5);
        s.max_backoff = Duration::from_millis(10);
        s.max_retries = 1;
        let blobs = Arc::new(FsBlobStore::new(dir));
        let pdf = myqcm_services::ai::ingest::sample_pdf(&[
            "The heart has four chambers.",
            "The aorta leaves the left ventricle.",
            "Systole is the contraction phase.",
        ])
        .unwrap();
        blobs.put("ai/req.pdf", pdf.into()).await.unwrap();
        let job = AiGenerateJob {
            db: c.clone(),
            usage: UsagePolicy::default(),
            blobs,
            llm: Arc::new(OpenAiCompatible::new(s).unwrap()),
            clock: Arc::new(SystemClock),
        };
        (job, c, db)
    }

    fn payload() -> serde_json::Value {
        serde_json::to_value(GeneratePayload {
            request_id: Uuid::now_v7(),
            blob_key: "ai/req.pdf".into(),
            requester: Uuid::now_v7(),
            roles: vec!["author".into()],
            scopes: vec![],
            mfa_enrolled: false,
            course: "cardio-1".into(),
            course_title: "Cardiology".into(),
            kcs: vec!["kc-1".into()],
            kc_names: vec!["Cardiac cycle".into()],
            qcs: 0,
            qcm: 5,
            qroc: 2,
            difficulty: "medium".into(),
            locale: "en".into(),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_pdf_request_for_five_qcm_and_two_qroc_leaves_drafts_and_a_summary() {
        let fake = FakeLlm::start("k").await.unwrap();
        fake.knobs(|k| k.with_link = true);
        let dir = tempfile::tempdir().unwrap();
        let (job, c, _db) = setup(&fake, dir.path()).await;
        let ctx = JobContext::detached(1, 1, Arc::new(SystemClock));
        let summary = job.execute(payload(), &ctx).await.unwrap();
        assert_eq!(
            summary.message(),
            format!(
                "6 drafts created; 1 refused (link_or_html ×1); {} tokens",
                summary.tokens
            )
        );
        assert!(ctx.last_progress().is_some());
        assert_eq!(summary.created.len(), 6);
        assert_eq!(summary.rejected.len(), 1);
        assert_eq!(summary.rejected[0].code, "link_or_html");
        for id in summary.created {
            let item = myqcm_db::catalogue::item_by_id(&c, id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(item.status, "draft");
        }
    }

    #[tokio::test]
    async fn a_failing_model_fails_the_job_and_saves_nothing() {
        let fake = FakeLlm::start("k").await.unwrap();
        fake.knobs(|k| k.fail_next = 100);
        let dir = tempfile::tempdir().unwrap();
        let (job, c, _db) = setup(&fake, dir.path()).await;
        let ctx = JobContext::detached(2, 1, Arc::new(SystemClock));
        let err = job.run(payload(), ctx).await.unwrap_err();
        assert!(err.to_string().contains("nothing was saved"), "{err}");
        assert_eq!(myqcm_db::catalogue::count_items(&c).await.unwrap(), 0);
    }

    #[test]
    #[allow(clippy::result_large_err, reason = "figment's Jail error type")]
    fn the_llm_exists_only_when_configured() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        figment::Jail::expect_with(|jail| {
            let c = crate::config::load(None).map_err(|e| e.to_string())?;
            assert!(crate::language_model(&c).is_none());
            jail.set_env("MYQCM_LLM_BASE_URL", "http://127.0.0.1:9/v1");
            jail.set_env("MYQCM_LLM_API_KEY", "k");
            let c = crate::config::load(None).map_err(|e| e.to_string())?;
            assert!(crate::language_model(&c).is_none(), "no model name");
            jail.set_env("MYQCM_LLM_MODEL", "m1");
            let c = crate::config::load(None).map_err(|e| e.to_string())?;
            let llm = crate::language_model(&c).map(|l| l.model().to_owned());
            assert_eq!(llm.as_deref(), Some("m1"));
            Ok(())
        });
    }

    #[tokio::test]
    async fn a_learner_payload_is_refused_before_any_call() {
        let fake = FakeLlm::start("k").await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (job, _, _db) = setup(&fake, dir.path()).await;
        let mut p = payload();
        p["roles"] = serde_json::json!(["student"]);
        let ctx = JobContext::detached(3, 1, Arc::new(SystemClock));
        assert!(job.run(p, ctx).await.is_err());
        assert!(fake.calls().is_empty());
    }
}
