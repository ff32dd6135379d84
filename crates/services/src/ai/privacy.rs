//! The AI part of the account export and erasure, called by the identity area's privacy use
//! cases (erasure inside its own transaction): the columns of the AI features that name an
//! account are exported, then cleared, and so are the job payloads naming it as the requester
//! of a generation or a KC suggestion run.

use chrono::{DateTime, Utc};
use myqcm_db::DbError;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use uuid::Uuid;

use super::usage::CallView;
use super::{kcs, requests};

/// The job kinds whose payload names their requester (`requester`).
const REQUESTER_JOBS: [&str; 2] = [requests::KIND, kcs::KIND];

/// The payload left on a running job whose requester was erased.
fn erased_payload() -> Value {
    json!({ "erased": true })
}

/// The language-model calls billed to `account` (kind, request, model, tokens, estimated
/// cost): its usage as an author.
///
/// # Errors
/// Storage failures.
pub async fn export<C: ConnectionTrait>(
    c: &C,
    account: Uuid,
) -> Result<serde_json::Value, DbError> {
    let calls: Vec<CallView> = myqcm_db::ai::calls_of_author(c, account)
        .await?
        .iter()
        .map(CallView::of)
        .collect();
    let requests: Vec<serde_json::Value> = myqcm_db::ai::requests_of(c, account)
        .await?
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "course": r.course,
                "kcs": serde_json::from_str::<serde_json::Value>(&r.kcs).unwrap_or_default(),
                "counts": {"qcs": r.qcs, "qcm": r.qcm, "qroc": r.qroc},
                "difficulty": r.difficulty,
                "language": r.language,
                "status": r.status,
                "created_at": chrono::DateTime::from_timestamp_millis(r.created_at),
                "finished_at": r.finished_at.and_then(chrono::DateTime::from_timestamp_millis),
                "drafts_created": r.drafts_created,
                "tokens": r.tokens,
                "refused": serde_json::from_str::<serde_json::Value>(&r.refusals).unwrap_or_default(),
                "error": r.error,
            })
        })
        .collect();
    Ok(serde_json::json!({ "model_calls": calls, "generation_requests": requests }))
}

/// Clears `account` from the KC suggestions it decided (`kc_suggestion.decided_by`; the
/// decision and its date stay) and from the model calls billed to it (`llm_call.author_id`;
/// the tokens and cost stay in the platform's totals, billed to no one), and deletes its
/// generation requests (`generation_request`: what was asked and refused) and, as a learner,
/// the model's rationales of its QROC grades (`qroc_grade_rationale`, which may quote the
/// free-text answers erased with the learning data). Generated drafts are
/// catalogue items like any other (their author is handled with the catalogue), and grading
/// overrides are audit rows.
///
/// The `ai.generate` and `ai.suggest_kcs` jobs it requested go too (queued ones never run,
/// finished ones are forgotten); one a worker is running at `now` is asked to stop and keeps
/// no payload but an erasure marker, which the job checks before it stores anything
/// ([`requester_erased`]), so it fails cleanly instead of saving drafts or suggestions for an
/// erased account.
///
/// # Errors
/// Storage failures.
pub async fn erase<C: ConnectionTrait>(
    c: &C,
    account: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    myqcm_db::catalogue::kc_suggestions::forget_decider(c, account).await?;
    myqcm_db::ai::forget_author(c, account).await?;
    myqcm_db::ai::delete_requests_of(c, account).await?;
    myqcm_db::ai::delete_rationales_of_learner(c, account).await?;
    forget_requested_jobs(c, account, now).await
}

/// Deletes or scrubs the AI jobs whose payload names `account` as their requester.
async fn forget_requested_jobs<C: ConnectionTrait>(
    c: &C,
    account: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let id = account.to_string();
    for kind in REQUESTER_JOBS {
        for job in myqcm_db::jobs::of_kind_mentioning(c, kind, &id).await? {
            if job.payload.get("requester").and_then(Value::as_str) != Some(id.as_str()) {
                continue;
            }
            if !myqcm_db::jobs::delete_unless_running(c, job.id).await? {
                myqcm_db::jobs::request_cancel(c, job.id, now).await?;
                myqcm_db::jobs::replace_payload(c, job.id, &erased_payload(), now).await?;
            }
        }
    }
    Ok(())
}

/// What a job stopped by its requester's erasure ([`requester_erased`]) does before it ends:
/// the calls it had answered after the erasure were billed to the account, so they are billed
/// to no one, like the account's earlier calls.
///
/// # Errors
/// Storage failures.
pub async fn after_erasure<C: ConnectionTrait>(c: &C, account: Uuid) -> Result<(), DbError> {
    myqcm_db::ai::forget_author(c, account).await?;
    Ok(())
}

/// Whether job `job_id` was running for a requester whose account has since been erased (its
/// payload was replaced by the erasure marker): the job must then stop and store nothing. A
/// job with no row (a handler run directly) was not.
///
/// # Errors
/// Storage failures.
pub async fn requester_erased<C: ConnectionTrait>(c: &C, job_id: i64) -> Result<bool, DbError> {
    match myqcm_db::jobs::get(c, job_id).await {
        Ok(row) => Ok(row.payload == erased_payload()),
        Err(DbError::NotFound) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]
mod tests {
    use myqcm_db::ai::LlmCallRow;

    use super::*;

    fn call(author: Option<Uuid>, tokens: i64) -> LlmCallRow {
        LlmCallRow {
            id: Uuid::now_v7(),
            at: 1_780_000_000_000,
            day: "2026-12-06".into(),
            kind: "generation".into(),
            author_id: author,
            request_id: Some("req-1".into()),
            model: "fake-model".into(),
            prompt_tokens: tokens,
            completion_tokens: 10,
            cost_micros: 7,
            outcome: "ok".into(),
        }
    }

    #[tokio::test]
    async fn the_export_holds_the_authors_calls_and_requests_and_erasure_clears_them() {
        let db = myqcm_testkit::test_db().await.unwrap();
        let c = &db.conn;
        let (author, other) = (Uuid::now_v7(), Uuid::now_v7());
        for row in [
            call(Some(author), 100),
            call(Some(author), 50),
            call(Some(other), 5),
        ] {
            myqcm_db::ai::insert_call(c, &row).await.unwrap();
        }
        let request = myqcm_db::ai::GenerationRequestRow {
            id: Uuid::now_v7(),
            requester_id: author,
            course: "cardio-hta".into(),
            kcs: r#"["kc-1"]"#.into(),
            qcs: 1,
            qcm: 2,
            qroc: 0,
            difficulty: "medium".into(),
            language: "fr".into(),
            status: "done".into(),
            created_at: 1_780_000_000_000,
            finished_at: Some(1_780_000_001_000),
            drafts_created: 2,
            tokens: 150,
            refusals: r#"[{"chunk":0,"position":2,"code":"duplicate","message":"m","excerpt":"Le coeur"}]"#.into(),
            error: None,
        };
        myqcm_db::ai::insert_request(c, &request).await.unwrap();
        let out = export(c, author).await.unwrap();
        let requests = out["generation_requests"].as_array().unwrap();
        assert_eq!(requests.len(), 1, "{out}");
        assert_eq!(requests[0]["refused"][0]["code"], "duplicate");
        assert_eq!(requests[0]["drafts_created"], 2);
        let calls = out["model_calls"].as_array().unwrap();
        assert_eq!(calls.len(), 2, "{out}");
        assert_eq!(calls[0]["prompt_tokens"], 100);
        assert_eq!(calls[0]["cost_micros"], 7);
        erase(c, author, chrono::Utc::now()).await.unwrap();
        assert_eq!(
            export(c, author).await.unwrap()["model_calls"],
            serde_json::json!([])
        );
        let all = myqcm_db::ai::calls_between(c, None, "2026-12-06", "2026-12-06", 10)
            .await
            .unwrap();
        assert_eq!(all.len(), 3, "the platform's totals stay whole");
        assert_eq!(all.iter().filter(|r| r.author_id.is_none()).count(), 2);
        assert_eq!(all.iter().filter(|r| r.author_id == Some(other)).count(), 1);
    }
}
