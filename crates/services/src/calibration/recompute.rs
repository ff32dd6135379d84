//! After a parameter set is published, every learner's θ (per subject) and KC mastery are
//! recomputed under it: the stored state was accumulated answer by answer under the sets in
//! use at the time, so it is on the old set's scale. The job `calibration.recompute` replays
//! each learner's graded attempts under the new set ([`myqcm_domain::learning::replay_history`],
//! the answer transaction's own updates) in pages of learners (id order), one write
//! transaction per page. The page cursor is stored in the set's notes (`recompute`) in the
//! same transaction as the page's state, so a crashed or cancelled run continues where it
//! stopped, and a page is never half applied.
//!
//! Concurrency: on PostgreSQL the page's transaction first locks the learners' open training
//! sessions, which every answer transaction locks first, so an answer either committed before
//! (and is replayed) or waits and then reads the recomputed state; SQLite's single writer does
//! the same. The FSRS memory is not recomputed: it depends on the parameters only through the
//! Hard/Good choice of one rating.

use std::collections::HashMap;

use myqcm_db::jobs::{self as jobs_repo, NewJob};
use myqcm_db::training::calibration::{self as repo, HistoryAttempt};
use myqcm_db::training::{self as training_repo, learner_ability, learner_kc};
use myqcm_domain::catalogue::{Difficulty, ItemKind};
use myqcm_domain::learning::{HistoryStep, prior_item_params, replay_history};
use myqcm_psychometrics::bkt::BktParams;
use myqcm_psychometrics::irt::ItemParams;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Calibration, CalibrationError, ProgressFn, option_count, report};

/// The job kind of the recomputation after a publish (`calibration.recompute`, payload
/// `{"parameter_set_id": id}`).
pub const RECOMPUTE_JOB: &str = "calibration.recompute";

/// Learners per page (one write transaction each).
pub const RECOMPUTE_PAGE: u64 = 200;

/// How far a recomputation got, stored under `recompute` in the set's notes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecomputeCursor {
    /// The last learner recomputed (learners are taken in id order).
    pub after: Option<Uuid>,
    /// Learners recomputed so far.
    pub learners_done: u64,
    /// When the first page was written (epoch ms).
    pub started_at_ms: Option<i64>,
    /// When the last page was written (epoch ms); `None` while unfinished.
    pub finished_at_ms: Option<i64>,
}

/// What a recomputation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecomputeOutcome {
    /// Every learner with a graded attempt has state under the set.
    Done {
        /// The set.
        parameter_set_id: i64,
        /// Learners recomputed in all runs so far.
        learners: u64,
    },
    /// The set is no longer the one in use (a later publish): nothing more to do for it; the
    /// later set's own job recomputes.
    Superseded {
        /// The set.
        parameter_set_id: i64,
        /// The set in use now.
        active: i64,
    },
}

/// The parameters a replay needs for one item: IRT in the set, KCs with their BKT parameters.
type ItemModel = (ItemParams, Vec<(Uuid, BktParams)>);

/// Queues the recomputation of set `set` in the caller's transaction (idempotent by set).
pub(super) async fn enqueue<C: sea_orm::ConnectionTrait>(
    c: &C,
    set: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<i64, CalibrationError> {
    let mut job = NewJob::new(
        RECOMPUTE_JOB,
        serde_json::json!({ "parameter_set_id": set }),
        now,
    );
    job.idempotency_key = Some(format!("{RECOMPUTE_JOB}:{set}"));
    Ok(jobs_repo::enqueue(c, &job, now).await?)
}

fn cursor_of(notes: &serde_json::Value) -> RecomputeCursor {
    notes
        .get("recompute")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

impl Calibration {
    /// The recomputation's cursor of set `set` (none before its first page).
    ///
    /// # Errors
    /// [`CalibrationError::UnknownSet`]; storage failures.
    pub async fn recompute_cursor(&self, set: i64) -> Result<RecomputeCursor, CalibrationError> {
        Ok(cursor_of(&self.notes_of(&self.db, set).await?.1))
    }

    async fn notes_of<C: sea_orm::ConnectionTrait>(
        &self,
        c: &C,
        set: i64,
    ) -> Result<(String, serde_json::Value), CalibrationError> {
        let s = training_repo::parameter_sets(c)
            .await?
            .into_iter()
            .find(|s| s.id == set)
            .ok_or(CalibrationError::UnknownSet(set))?;
        let mut notes: serde_json::Value =
            serde_json::from_str(&s.notes).unwrap_or_else(|_| serde_json::json!({}));
        if !notes.is_object() {
            notes = serde_json::json!({ "previous_notes": s.notes });
        }
        Ok((s.status, notes))
    }

    /// Recomputes every learner's θ and KC mastery under the published set `set`, continuing
    /// from the stored cursor (module documentation). `progress` gets the fraction of learners
    /// done and may stop the run between pages ([`CalibrationError::Stopped`]; the pages
    /// written stay, and the next run continues after them).
    ///
    /// # Errors
    /// [`CalibrationError::UnknownSet`], [`CalibrationError::Stopped`], storage failures.
    pub async fn recompute(
        &self,
        set: i64,
        progress: ProgressFn<'_>,
    ) -> Result<RecomputeOutcome, CalibrationError> {
        let (status, notes) = self.notes_of(&self.db, set).await?;
        let mut cursor = cursor_of(&notes);
        if status != "active" {
            let active = training_repo::active_parameter_set(&self.db).await?;
            return Ok(RecomputeOutcome::Superseded {
                parameter_set_id: set,
                active,
            });
        }
        if cursor.finished_at_ms.is_some() {
            return Ok(RecomputeOutcome::Done {
                parameter_set_id: set,
                learners: cursor.learners_done,
            });
        }
        let total = repo::count_graded_learners(&self.db).await?.max(1);
        let mut items: HashMap<Uuid, Option<ItemModel>> = HashMap::new();
        loop {
            let fraction = (cursor.learners_done as f64 / total as f64).min(1.0);
            report(
                progress,
                fraction,
                &format!(
                    "recomputing learner state under set {set}: {} of {total} learners",
                    cursor.learners_done
                ),
            )?;
            let page =
                repo::graded_learners_page(&self.db, cursor.after, self.recompute_page).await?;
            let Some(last) = page.last().copied() else {
                break;
            };
            let txn = myqcm_db::begin_write(&self.db).await?;
            repo::lock_open_sessions(&txn, &page).await?;
            let active = training_repo::active_parameter_set(&txn).await?;
            if active != set {
                return Ok(RecomputeOutcome::Superseded {
                    parameter_set_id: set,
                    active,
                });
            }
            let history = repo::learner_histories(&txn, &page).await?;
            let unseen: Vec<Uuid> = history
                .iter()
                .map(|a| a.item_id)
                .filter(|i| !items.contains_key(i))
                .collect::<std::collections::HashSet<_>>()
                .into_iter()
                .collect();
            load_items(&txn, set, &unseen, &mut items).await?;
            let now = self.clock.now().timestamp_millis();
            let (abilities, kcs) = replayed_rows(&history, &items, now);
            for a in abilities {
                training_repo::put_ability(&txn, a).await?;
            }
            for chunk in kcs.chunks(1000) {
                training_repo::put_kc_states(&txn, chunk.to_vec()).await?;
            }
            cursor.after = Some(last);
            cursor.learners_done += page.len() as u64;
            cursor.started_at_ms.get_or_insert(now);
            let (_, mut notes) = self.notes_of(&txn, set).await?;
            notes["recompute"] = serde_json::to_value(&cursor)
                .map_err(|e| CalibrationError::Store(e.to_string()))?;
            repo::set_parameter_set_notes(&txn, set, &notes.to_string()).await?;
            txn.commit().await?;
        }
        cursor.finished_at_ms = Some(self.clock.now().timestamp_millis());
        let (_, mut notes) = self.notes_of(&self.db, set).await?;
        notes["recompute"] =
            serde_json::to_value(&cursor).map_err(|e| CalibrationError::Store(e.to_string()))?;
        repo::set_parameter_set_notes(&self.db, set, &notes.to_string()).await?;
        progress(1.0, "learner state recomputed");
        Ok(RecomputeOutcome::Done {
            parameter_set_id: set,
            learners: cursor.learners_done,
        })
    }
}

/// Loads the replay parameters of `ids` in set `set` (the priors where the set has no row, the
/// default BKT parameters for a KC without one); a deleted item maps to `None` and its answers
/// are skipped, as calibration skips them.
async fn load_items<C: sea_orm::ConnectionTrait>(
    c: &C,
    set: i64,
    ids: &[Uuid],
    out: &mut HashMap<Uuid, Option<ItemModel>>,
) -> Result<(), CalibrationError> {
    if ids.is_empty() {
        return Ok(());
    }
    let stored: HashMap<Uuid, (f64, f64, f64)> = repo::item_parameters(c, set, ids)
        .await?
        .into_iter()
        .map(|(i, a, b, cc)| (i, (a, b, cc)))
        .collect();
    let mut tags: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    let mut all_kcs = Vec::new();
    for (item, kc, _) in training_repo::kc_tags(c, ids).await? {
        tags.entry(item).or_default().push(kc);
        all_kcs.push(kc);
    }
    all_kcs.sort_unstable();
    all_kcs.dedup();
    let kc_params: HashMap<Uuid, BktParams> = training_repo::kc_parameters(c, set, &all_kcs)
        .await?
        .into_iter()
        .map(|p| {
            (
                p.kc_id,
                BktParams::clamped(p.p_init, p.p_learn, p.p_guess, p.p_slip),
            )
        })
        .collect();
    for id in ids {
        out.insert(*id, None);
    }
    for r in repo::calibration_items(c, ids).await? {
        let kind: ItemKind = r.kind.parse().unwrap_or(ItemKind::Qcm);
        let difficulty: Difficulty = r.difficulty.parse().unwrap_or(Difficulty::Medium);
        let prior = || prior_item_params(kind, difficulty, option_count(&r.content));
        let params = stored.get(&r.id).map_or_else(prior, |(a, b, cc)| {
            ItemParams::three_pl(*a, *b, *cc).unwrap_or_else(|_| prior())
        });
        let kcs = tags
            .remove(&r.id)
            .unwrap_or_default()
            .into_iter()
            .map(|k| (k, kc_params.get(&k).copied().unwrap_or_default()))
            .collect();
        out.insert(r.id, Some((params, kcs)));
    }
    Ok(())
}

/// The rows of the replayed state of every learner in `history` (grouped by learner).
fn replayed_rows(
    history: &[HistoryAttempt],
    items: &HashMap<Uuid, Option<ItemModel>>,
    now: i64,
) -> (Vec<learner_ability::Model>, Vec<learner_kc::Model>) {
    let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    let mut abilities = Vec::new();
    let mut kcs = Vec::new();
    for learner in history.chunk_by(|a, b| a.learner_id == b.learner_id) {
        let Some(first) = learner.first() else {
            continue;
        };
        let steps = learner.iter().filter_map(|a| {
            let (item, kcs) = items.get(&a.item_id)?.as_ref()?;
            Some(HistoryStep {
                subject: a.subject_id,
                item,
                kcs: kcs.as_slice(),
                correct: a.correct,
            })
        });
        let (ability, mastery) = replay_history(steps);
        abilities.extend(
            ability
                .into_iter()
                .map(|(subject, a)| learner_ability::Model {
                    learner_id: first.learner_id,
                    subject_id: subject,
                    theta: a.theta,
                    se: a.se,
                    answers: count(a.answers),
                    updated_at: now,
                }),
        );
        kcs.extend(mastery.into_iter().map(|(kc, s)| learner_kc::Model {
            learner_id: first.learner_id,
            kc_id: kc,
            mastery: s.mastery,
            evidence: count(s.evidence),
            updated_at: now,
        }));
    }
    (abilities, kcs)
}
