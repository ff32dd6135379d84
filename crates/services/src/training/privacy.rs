//! The learning part of the account export and erasure, called by the identity area's
//! privacy use cases inside their own transaction.

use myqcm_db::DbError;
use myqcm_db::training as repo;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

fn at(ms: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(ms)
}

/// Everything the learning tables hold about `learner`, as JSON (profile, sessions with the
/// served items, flags and notes, attempts with responses and grades, learner state).
pub async fn export<C: ConnectionTrait>(
    c: &C,
    learner: Uuid,
) -> Result<serde_json::Value, DbError> {
    let d = repo::learner_data(c, learner).await?;
    let json = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap_or_default();
    Ok(serde_json::json!({
        "profile": d.profile.map(|p| serde_json::json!({
            "university_id": p.university_id,
            "faculty_id": p.faculty_id,
            "year_of_study": p.year_of_study,
            "exam_date": p.exam_date,
            "daily_minutes": p.daily_minutes,
            "mode": p.mode,
            "updated_at": at(p.updated_at),
        })),
        "training_sessions": d.sessions.iter().map(|s| serde_json::json!({
            "id": s.id,
            "subject_id": s.subject_id,
            "mode": s.mode,
            "style": s.style,
            "status": s.status,
            "end_reason": s.end_reason,
            "request": json(&s.request),
            "created_at": at(s.created_at),
            "completed_at": s.completed_at.and_then(at),
        })).collect::<Vec<_>>(),
        "served_items": d.items.iter().map(|i| serde_json::json!({
            "id": i.id,
            "session_id": i.session_id,
            "position": i.position,
            "item_id": i.item_id,
            "revision_id": i.revision_id,
            "state": i.state,
            "reason": i.reason,
            "p_correct": i.p_correct,
            "served_at": at(i.served_at),
            "flagged": i.flagged,
            "note": i.note,
        })).collect::<Vec<_>>(),
        "attempts": d.attempts.iter().map(|a| serde_json::json!({
            "id": a.id,
            "served_item_id": a.session_item_id,
            "item_id": a.item_id,
            "revision_id": a.revision_id,
            "response": json(&a.response),
            "ratio": a.ratio,
            "correct": a.correct,
            "grader": a.grader,
            "ungraded_reason": a.ungraded_reason,
            "rule_version": a.rule_version,
            "time_spent_ms": a.time_spent_ms,
            "created_at": at(a.created_at),
        })).collect::<Vec<_>>(),
        "ability": d.abilities.iter().map(|a| serde_json::json!({
            "subject_id": a.subject_id, "theta": a.theta, "se": a.se, "answers": a.answers,
        })).collect::<Vec<_>>(),
        "knowledge_components": d.kcs.iter().map(|k| serde_json::json!({
            "kc_id": k.kc_id, "mastery": k.mastery, "evidence": k.evidence,
        })).collect::<Vec<_>>(),
        "memory": d.memories.iter().map(|m| serde_json::json!({
            "item_id": m.item_id, "stability": m.stability, "difficulty": m.difficulty,
            "reviews": m.reviews, "lapses": m.lapses,
            "last_review_at": at(m.last_review_at), "due_at": at(m.due_at),
        })).collect::<Vec<_>>(),
    }))
}

/// Erases the personal learning data of `learner` in `c` (the caller's transaction): profile,
/// learner state, notes, flags and free-text answers. Sessions and graded attempts stay as
/// anonymous statistics of the anonymised account. A reviewer's name leaves the item-quality
/// alerts they dismissed (the dismissal stays).
pub async fn erase<C: ConnectionTrait>(c: &C, learner: Uuid) -> Result<(), DbError> {
    repo::erase_learner(c, learner).await?;
    repo::quality::forget_decider(c, learner).await
}
