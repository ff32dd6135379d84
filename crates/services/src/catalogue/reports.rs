//! Learner reports on approved items and their triage queue. The reporter reads the outcome on
//! their own report (`status` + `resolution`); notifications come later.

use chrono::{DateTime, Utc};
use myqcm_db::catalogue::{self as repo, item_report};
use myqcm_db::{DatabaseConnection, DbError};
use myqcm_domain::catalogue::ContentError;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::catalogue::reports::{MAX_REPORT_TEXT, ReportCategory, ReportStatus, can_move};
use myqcm_domain::permissions::Action;
use myqcm_domain::ports::Cache;
use uuid::Uuid;

use super::views::ReportView;
use super::{CatalogueError, Result};
use crate::identity::audit;
use crate::identity::ratelimit::{self, Limit};

/// Reports per learner: 20 an hour (a learner who finds more is welcome to write to support;
/// the queue is read by people, so a script must not be able to flood it).
pub const REPORTS_PER_USER: Limit = ratelimit::per("report-user", 20, 3600);

fn invalid(field: &str, code: &'static str, msg: &str) -> CatalogueError {
    CatalogueError::Invalid(vec![ContentError::new(field, code, msg)])
}

/// Files a report on an approved item, against the revision the learner saw. At most
/// [`REPORTS_PER_USER`] per learner (counted once the report is valid, before it is stored).
pub async fn create(
    db: &DatabaseConnection,
    cache: &dyn Cache,
    actor: &Actor,
    item_id: Uuid,
    category: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<ReportView> {
    if !actor.can(Action::ReportCreate) {
        return Err(CatalogueError::Forbidden);
    }
    let category: ReportCategory = category
        .parse()
        .map_err(|_| invalid("category", "unknown", "wrong_key, typo, outdated or other."))?;
    let body = body.trim();
    if body.chars().count() > MAX_REPORT_TEXT {
        return Err(invalid("body", "too_long", "At most 4000 characters."));
    }
    if category == ReportCategory::Other && body.is_empty() {
        return Err(invalid("body", "required", "Say what is wrong."));
    }
    let row = repo::item_by_id(db, item_id)
        .await?
        .filter(|r| r.status == "approved")
        .ok_or(CatalogueError::NotFound)?;
    let rev = row.current_revision_id.ok_or(CatalogueError::NotFound)?;
    let over = ratelimit::over(cache, REPORTS_PER_USER, &actor.id.to_string())
        .await
        .map_err(|e| CatalogueError::Store(DbError::Backend(format!("cache: {e}"))))?;
    if over {
        return Err(CatalogueError::RateLimited("at most 20 reports an hour"));
    }
    let r = repo::insert_report(
        db,
        item_report::Model {
            id: Uuid::now_v7(),
            item_id,
            revision_id: rev,
            reporter_id: actor.id,
            category: category.as_str().into(),
            body: body.to_owned(),
            status: ReportStatus::Open.as_str().into(),
            resolution: None,
            triaged_by: None,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    Ok(r.into())
}

/// The reporter's own reports, newest first.
pub async fn mine(
    db: &DatabaseConnection,
    actor: &Actor,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<ReportView>> {
    Ok(
        repo::list_reports(db, None, Some(actor.id), before, limit.clamp(1, 100))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    )
}

/// The triage queue (default: open reports).
pub async fn queue(
    db: &DatabaseConnection,
    actor: &Actor,
    status: Option<&str>,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<ReportView>> {
    super::staff_gate(actor)?;
    if !actor.can(Action::ReportTriage) {
        return Err(CatalogueError::Forbidden);
    }
    let status: ReportStatus = status
        .unwrap_or("open")
        .parse()
        .map_err(|_| invalid("status", "unknown", "open, accepted, rejected or fixed."))?;
    Ok(
        repo::list_reports(db, Some(status.as_str()), None, before, limit.clamp(1, 100))
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    )
}

/// Moves a report along triage; rejecting needs a resolution text for the reporter. The move
/// is audit-logged (`catalogue.report_triage`) with the acting account.
pub async fn triage(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    to: &str,
    resolution: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ReportView> {
    super::staff_gate(actor)?;
    if !actor.can(Action::ReportTriage) {
        return Err(CatalogueError::Forbidden);
    }
    let to: ReportStatus = to
        .parse()
        .map_err(|_| invalid("status", "unknown", "accepted, rejected or fixed."))?;
    let mut r = repo::report(db, id)
        .await?
        .ok_or(CatalogueError::NotFound)?;
    let from: ReportStatus = r
        .status
        .parse()
        .map_err(|_| CatalogueError::WrongState("unknown stored status".into()))?;
    if !can_move(from, to) {
        return Err(CatalogueError::WrongState(format!(
            "cannot move a report from {from} to {to}"
        )));
    }
    let resolution = resolution.map(str::trim).filter(|s| !s.is_empty());
    if to == ReportStatus::Rejected && resolution.is_none() {
        return Err(invalid("resolution", "required", "Tell the reporter why."));
    }
    r.status = to.as_str().into();
    if let Some(text) = resolution {
        r.resolution = Some(text.chars().take(MAX_REPORT_TEXT).collect());
    }
    r.triaged_by = Some(actor.id);
    r.updated_at = now;
    let txn = repo::begin_write(db).await?;
    let saved = repo::update_report(&txn, r).await?;
    let ev = audit::Event::new("catalogue.report_triage")
        .actor(actor.id)
        .target(id.to_string())
        .detail(serde_json::json!({
            "item": saved.item_id,
            "from": from.as_str(),
            "to": to.as_str(),
        }));
    audit::record_at(&txn, now, ev).await?;
    txn.commit().await?;
    Ok(saved.into())
}
