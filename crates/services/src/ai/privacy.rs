//! The AI part of the account export and erasure, called by the identity area's privacy use
//! cases (erasure inside its own transaction): the columns of the AI features that name an
//! account are exported, then cleared.

use myqcm_db::DbError;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::usage::CallView;

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
    Ok(serde_json::json!({ "model_calls": calls }))
}

/// Clears `account` from the KC suggestions it decided (`kc_suggestion.decided_by`; the
/// decision and its date stay) and from the model calls billed to it (`llm_call.author_id`;
/// the tokens and cost stay in the platform's totals, billed to no one). Generated drafts are
/// catalogue items like any other (their author is handled with the catalogue), and grading
/// overrides are audit rows.
///
/// # Errors
/// Storage failures.
pub async fn erase<C: ConnectionTrait>(c: &C, account: Uuid) -> Result<(), DbError> {
    myqcm_db::catalogue::kc_suggestions::forget_decider(c, account).await?;
    myqcm_db::ai::forget_author(c, account).await?;
    Ok(())
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
        }
    }

    #[tokio::test]
    async fn the_export_holds_the_authors_calls_and_erasure_keeps_them_billed_to_no_one() {
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
        let out = export(c, author).await.unwrap();
        let calls = out["model_calls"].as_array().unwrap();
        assert_eq!(calls.len(), 2, "{out}");
        assert_eq!(calls[0]["prompt_tokens"], 100);
        assert_eq!(calls[0]["cost_micros"], 7);
        erase(c, author).await.unwrap();
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
