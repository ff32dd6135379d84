//! A session's candidate pool and the choice of the next unit.
//!
//! A pool is built once per session (and again when its cache entry expires): every approved
//! unit of the subject — a standalone item, or a clinical case whose sub-items are all approved
//! — with its IRT parameters (active set, else the priors), KCs, due score and the attributes the
//! filters look at. The session's filters mark the eligible units; the rest stay so that, when
//! the pool runs dry, the learner can be told which filter to widen and by how much.
//!
//! Eligibility *within* the session (what was already served) and the learner's current
//! masteries are read in the answer's transaction and passed to [`Pool::select`], so the cached
//! part never has to be rebuilt after an answer or a skip, and a skipped item can never come
//! back from a stale cache. Units are numbered by their index in the pool (`Unit::id`), never by
//! a truncated UUID.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use myqcm_db::catalogue as catalogue_repo;
use myqcm_db::training::{self as repo, PoolRow, learner_profile, training_session};
use myqcm_domain::catalogue::blueprint::BlueprintWeights;
use myqcm_domain::catalogue::{Difficulty, ItemKind};
use myqcm_domain::learning::{Memory, prior_item_params};
use myqcm_domain::training::{PoolFilter, Reason, SessionParams, SessionRequest, Style};
use myqcm_psychometrics::bkt::BktParams;
use myqcm_psychometrics::irt::ItemParams;
use myqcm_psychometrics::memory::MemoryModel;
use myqcm_psychometrics::selection::{
    Exposure, LearnerView, ReasonCode, SelectionPolicy, Unit, select_next,
};
use rand::Rng;
use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use super::TrainingError;
use super::views::Widening;

/// Most due reviews a review session draws from.
const REVIEW_LIMIT: u64 = 500;

/// One item of a unit.
#[derive(Debug, Clone)]
pub struct PoolItem {
    /// Item.
    pub item_id: Uuid,
    /// Current revision.
    pub revision_id: Uuid,
    /// Subject.
    pub subject_id: Uuid,
    /// Kind.
    pub kind: ItemKind,
    /// IRT parameters.
    pub params: ItemParams,
    /// The set they come from (0 = priors).
    pub parameter_set: i64,
    /// KC indices.
    pub kcs: Vec<usize>,
}

/// A standalone item or a whole clinical case, with what the filters look at.
#[derive(Debug, Clone)]
pub struct PoolUnit {
    /// Items in serving order (one, or the case's sub-items).
    pub items: Vec<PoolItem>,
    /// The clinical case.
    pub case_id: Option<Uuid>,
    course_id: Uuid,
    kinds: Vec<ItemKind>,
    difficulties: Vec<Difficulty>,
    sources: Vec<Option<String>>,
    kcs: Vec<usize>,
    attempted: bool,
    incorrect: bool,
    flagged: bool,
    due: f64,
}

/// The filters of a session, as the pool applies them.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    courses: Vec<Uuid>,
    kcs: Vec<Uuid>,
    kinds: Vec<ItemKind>,
    difficulties: Vec<Difficulty>,
    sources: Vec<String>,
    pool: PoolFilter,
    /// Clinical cases are left out (an entitlement: never relaxed).
    without_cases: bool,
}

impl Filters {
    /// The filters of a request under resolved parameters (a full mock has none).
    pub fn of(request: &SessionRequest, params: &SessionParams) -> Self {
        if request.full_mock {
            return Self {
                without_cases: request.without_cases,
                ..Self::default()
            };
        }
        Self {
            courses: request.courses.clone(),
            kcs: request.kcs.clone(),
            kinds: if params.kinds.len() >= ItemKind::ALL.len() {
                vec![]
            } else {
                params.kinds.clone()
            },
            difficulties: params.difficulties.clone(),
            sources: request.sources.clone(),
            pool: request.pool,
            without_cases: request.without_cases,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drop {
    Pool,
    Kinds,
    Difficulties,
    Sources,
    Kcs,
    Courses,
}

impl Drop {
    const ALL: [Self; 6] = [
        Self::Pool,
        Self::Kinds,
        Self::Difficulties,
        Self::Sources,
        Self::Kcs,
        Self::Courses,
    ];
    fn name(self) -> &'static str {
        match self {
            Self::Pool => "pool",
            Self::Kinds => "kinds",
            Self::Difficulties => "difficulties",
            Self::Sources => "sources",
            Self::Kcs => "kcs",
            Self::Courses => "courses",
        }
    }
}

/// A session's candidates (cached per session).
#[derive(Debug)]
pub struct Pool {
    /// Every candidate unit, eligible or not.
    pub units: Vec<PoolUnit>,
    /// Item id → unit index.
    pub by_item: HashMap<Uuid, usize>,
    /// KC index → KC id.
    pub kcs: Vec<Uuid>,
    /// BKT parameters by KC index.
    pub kc_params: Vec<BktParams>,
    /// The parameter set in use when the pool was built (its cache key's version).
    pub parameter_set: i64,
    kc_target: Vec<f64>,
    kc_filter: Vec<usize>,
    filters: Filters,
    eligible: Vec<usize>,
    /// Selection units of the eligible candidates (blueprint gaps are rewritten per choice).
    selectable: Mutex<Vec<Unit>>,
}

/// Parses a stored enum name, reporting a storage error.
fn parse<T: std::str::FromStr>(s: &str) -> Result<T, TrainingError> {
    s.parse()
        .map_err(|_| TrainingError::Store(format!("unexpected stored value {s:?}")))
}

/// What a pool build needs besides the connection.
pub struct BuildInput<'a> {
    /// The session row (learner, subject, style).
    pub session: &'a training_session::Model,
    /// The learner's request.
    pub request: &'a SessionRequest,
    /// Resolved parameters.
    pub params: &'a SessionParams,
    /// The learner's profile (year and faculty for blueprints and reviews).
    pub profile: Option<&'a learner_profile::Model>,
    /// Memory model (due scores).
    pub memory_model: &'a MemoryModel,
    /// Now, epoch ms.
    pub now_ms: i64,
}

impl Pool {
    /// Builds the pool of a session (module documentation). A handful of indexed queries; no
    /// revision content is read.
    pub async fn build<C: ConnectionTrait>(
        c: &C,
        input: &BuildInput<'_>,
    ) -> Result<Self, TrainingError> {
        let learner = input.session.learner_id;
        let style: Style = parse(&input.session.style)?;
        let set = repo::active_parameter_set(c).await?;
        // Rows and KC tags.
        let (mut rows, subjects): (Vec<PoolRow>, Vec<Uuid>) = match input.session.subject_id {
            Some(subject) if style != Style::Review => {
                (repo::pool_rows(c, subject, &[], set).await?, vec![subject])
            }
            _ => {
                let year = input.profile.and_then(|p| p.year_of_study).unwrap_or(0);
                let subjects: Vec<Uuid> = catalogue_repo::subjects_of_year(c, year)
                    .await?
                    .into_iter()
                    .map(|s| s.id)
                    .collect();
                let due = repo::due_memories(c, learner, input.now_ms, REVIEW_LIMIT).await?;
                let ids: Vec<Uuid> = due
                    .iter()
                    .filter(|m| subjects.contains(&m.subject_id))
                    .map(|m| m.item_id)
                    .collect();
                (repo::pool_rows_by_ids(c, &ids, set).await?, subjects)
            }
        };
        // Complete the clinical cases met, keep those whose every sub-item is approved.
        let case_ids: Vec<Uuid> = {
            let mut v: Vec<Uuid> = rows.iter().filter_map(|r| r.case_id).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        if !case_ids.is_empty() {
            let approved = repo::case_rows(c, &case_ids, set).await?;
            let sizes: HashMap<Uuid, i64> =
                repo::case_sizes(c, &case_ids).await?.into_iter().collect();
            let mut count: HashMap<Uuid, i64> = HashMap::new();
            for r in &approved {
                if let Some(cid) = r.case_id {
                    *count.entry(cid).or_default() += 1;
                }
            }
            let complete: HashSet<Uuid> = case_ids
                .iter()
                .filter(|cid| count.get(cid) == sizes.get(cid))
                .copied()
                .collect();
            rows.retain(|r| r.case_id.is_none());
            rows.extend(
                approved
                    .into_iter()
                    .filter(|r| r.case_id.is_some_and(|cid| complete.contains(&cid))),
            );
        }
        let tags = match input.session.subject_id {
            Some(subject) if style != Style::Review => repo::subject_kc_tags(c, subject).await?,
            _ => {
                let ids: Vec<Uuid> = rows.iter().map(|r| r.item_id).collect();
                repo::kc_tags(c, &ids).await?
            }
        };
        // KC indices and parameters.
        let mut kc_index: HashMap<Uuid, usize> = HashMap::new();
        let mut kcs: Vec<Uuid> = Vec::new();
        let mut item_kcs: HashMap<Uuid, Vec<usize>> = HashMap::new();
        for (item, kc, _) in &tags {
            let k = *kc_index.entry(*kc).or_insert_with(|| {
                kcs.push(*kc);
                kcs.len() - 1
            });
            item_kcs.entry(*item).or_default().push(k);
        }
        let mut kc_params = vec![BktParams::default(); kcs.len()];
        for p in repo::kc_parameters(c, set, &kcs).await? {
            if let Some(k) = kc_index.get(&p.kc_id) {
                kc_params[*k] = BktParams::clamped(p.p_init, p.p_learn, p.p_guess, p.p_slip);
            }
        }
        // Learner history for the pool filters and due scores.
        let mut latest: HashMap<Uuid, Option<bool>> = HashMap::new();
        let mut last_label: HashMap<Uuid, bool> = HashMap::new();
        for (item, label, _) in repo::attempt_history(c, learner).await? {
            latest.insert(item, label);
            if let Some(l) = label {
                last_label.insert(item, l);
            }
        }
        let flagged: HashSet<Uuid> = repo::flagged_items(c, learner).await?.into_iter().collect();
        let due: HashMap<Uuid, f64> = repo::memories_in(c, learner, &subjects)
            .await?
            .into_iter()
            .map(|m| {
                let mem = Memory {
                    stability: m.stability,
                    difficulty: m.difficulty,
                    reviews: u32::try_from(m.reviews).unwrap_or(0),
                    lapses: u32::try_from(m.lapses).unwrap_or(0),
                    last_review_ms: m.last_review_at,
                    due_ms: m.due_at,
                };
                (m.item_id, mem.due_score(input.memory_model, input.now_ms))
            })
            .collect();
        // Units: standalone items, then cases in sub-item order.
        rows.sort_by_key(|r| (r.case_id, r.case_position, r.item_id));
        let mut units: Vec<PoolUnit> = Vec::new();
        let mut case_unit: HashMap<Uuid, usize> = HashMap::new();
        for r in &rows {
            let kind: ItemKind = parse(&r.kind)?;
            let difficulty: Difficulty = parse(&r.difficulty)?;
            let (params, parameter_set) = match r.params {
                Some((a, b, cc)) => match ItemParams::three_pl(a, b, cc) {
                    Ok(p) => (p, set),
                    Err(_) => (prior_item_params(kind, difficulty, r.n_options as usize), 0),
                },
                None => (prior_item_params(kind, difficulty, r.n_options as usize), 0),
            };
            let kcs_of = item_kcs.get(&r.item_id).cloned().unwrap_or_default();
            let item = PoolItem {
                item_id: r.item_id,
                revision_id: r.revision_id,
                subject_id: r.subject_id,
                kind,
                params,
                parameter_set,
                kcs: kcs_of.clone(),
            };
            let idx = match r.case_id.and_then(|cid| case_unit.get(&cid).copied()) {
                Some(i) => i,
                None => {
                    units.push(PoolUnit {
                        items: Vec::new(),
                        case_id: r.case_id,
                        course_id: r.course_id,
                        kinds: Vec::new(),
                        difficulties: Vec::new(),
                        sources: Vec::new(),
                        kcs: Vec::new(),
                        attempted: false,
                        incorrect: false,
                        flagged: false,
                        due: 0.0,
                    });
                    if let Some(cid) = r.case_id {
                        case_unit.insert(cid, units.len() - 1);
                    }
                    units.len() - 1
                }
            };
            let u = &mut units[idx];
            u.items.push(item);
            u.kinds.push(kind);
            u.difficulties.push(difficulty);
            u.sources.push(r.source_kind.clone());
            for k in kcs_of {
                if !u.kcs.contains(&k) {
                    u.kcs.push(k);
                }
            }
            u.attempted |= latest.contains_key(&r.item_id);
            u.incorrect |= last_label.get(&r.item_id) == Some(&false);
            u.flagged |= flagged.contains(&r.item_id);
            u.due = u.due.max(due.get(&r.item_id).copied().unwrap_or(0.0));
        }
        let by_item = units
            .iter()
            .enumerate()
            .flat_map(|(i, u)| u.items.iter().map(move |it| (it.item_id, i)))
            .collect();
        let kc_target = blueprint_targets(c, input, &kcs).await?;
        let mut pool = Self {
            units,
            by_item,
            kcs,
            kc_params,
            parameter_set: set,
            kc_target,
            kc_filter: Vec::new(),
            filters: Filters::default(),
            eligible: Vec::new(),
            selectable: Mutex::new(Vec::new()),
        };
        pool.apply(Filters::of(input.request, input.params));
        Ok(pool)
    }

    /// Sets the filters and recomputes the eligible units.
    pub fn apply(&mut self, filters: Filters) {
        self.kc_filter = filters
            .kcs
            .iter()
            .filter_map(|id| self.kcs.iter().position(|k| k == id))
            .collect();
        self.filters = filters;
        self.eligible = (0..self.units.len())
            .filter(|i| self.passes(&self.units[*i], None))
            .collect();
        let selectable = self
            .eligible
            .iter()
            .map(|i| {
                let u = &self.units[*i];
                Unit {
                    id: *i as u64,
                    items: u.items.iter().map(|it| it.params).collect(),
                    kcs: u.kcs.clone(),
                    due: u.due,
                    blueprint_gap: 0.0,
                    exposure_k: 1.0,
                }
            })
            .collect();
        *self
            .selectable
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = selectable;
    }

    fn passes(&self, u: &PoolUnit, drop: Option<Drop>) -> bool {
        let f = &self.filters;
        if f.without_cases && u.case_id.is_some() {
            return false;
        }
        let on = |d: Drop| drop != Some(d);
        if on(Drop::Courses) && !f.courses.is_empty() && !f.courses.contains(&u.course_id) {
            return false;
        }
        if on(Drop::Kinds) && !f.kinds.is_empty() && !u.kinds.iter().all(|k| f.kinds.contains(k)) {
            return false;
        }
        if on(Drop::Difficulties)
            && !f.difficulties.is_empty()
            && !u.difficulties.iter().all(|d| f.difficulties.contains(d))
        {
            return false;
        }
        if on(Drop::Sources)
            && !f.sources.is_empty()
            && !u
                .sources
                .iter()
                .all(|s| s.as_ref().is_some_and(|s| f.sources.contains(s)))
        {
            return false;
        }
        if on(Drop::Kcs) && !f.kcs.is_empty() && !u.kcs.iter().any(|k| self.kc_filter.contains(k)) {
            return false;
        }
        if on(Drop::Pool) {
            let keep = match f.pool {
                PoolFilter::All => true,
                PoolFilter::Unused => !u.attempted,
                PoolFilter::Incorrect => u.incorrect,
                PoolFilter::Flagged => u.flagged,
            };
            if !keep {
                return false;
            }
        }
        true
    }

    /// Number of eligible units.
    pub fn eligible_len(&self) -> usize {
        self.eligible.len()
    }

    /// The unit index of an item.
    pub fn unit_of(&self, item: Uuid) -> Option<usize> {
        self.by_item.get(&item).copied()
    }

    /// For each active filter, how many units not yet served dropping it alone would add.
    pub fn widenings(&self, served: &HashSet<usize>) -> Vec<Widening> {
        Drop::ALL
            .iter()
            .filter_map(|d| {
                let available = (0..self.units.len())
                    .filter(|i| !served.contains(i))
                    .filter(|i| !self.passes(&self.units[*i], None))
                    .filter(|i| self.passes(&self.units[*i], Some(*d)))
                    .count() as u64;
                (available > 0).then(|| Widening {
                    drop: d.name().into(),
                    available,
                })
            })
            .collect()
    }

    /// Blueprint gap per KC: how far the share of served items tagged with it is below the
    /// blueprint's share, relative to that share, in [0, 1].
    fn kc_gaps(&self, served: &[usize]) -> Vec<f64> {
        let mut count = vec![0.0f64; self.kcs.len()];
        let mut total = 0.0;
        for u in served {
            for it in &self.units[*u].items {
                for k in &it.kcs {
                    count[*k] += 1.0;
                    total += 1.0;
                }
            }
        }
        self.kc_target
            .iter()
            .zip(&count)
            .map(|(t, c)| {
                if *t <= 0.0 {
                    0.0
                } else {
                    let share = if total > 0.0 { c / total } else { 0.0 };
                    ((t - share) / t).clamp(0.0, 1.0)
                }
            })
            .collect()
    }

    /// Chooses the next unit: `select_next` over the eligible units not yet served, with the
    /// learner's θ̂ (subject sessions) and KC masteries (by KC index), under the style's policy.
    pub fn select<R: Rng + ?Sized>(
        &self,
        style: Style,
        theta: f64,
        mastery: &[f64],
        served: &[usize],
        rng: &mut R,
    ) -> Option<(usize, Reason)> {
        let gaps = self.kc_gaps(served);
        let recent: Vec<u64> = served.iter().map(|u| *u as u64).collect();
        let mut units = self
            .selectable
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let served_set: HashSet<usize> = served.iter().copied().collect();
        let mut max_gap = 0.0f64;
        for u in units.iter_mut() {
            u.blueprint_gap = u
                .kcs
                .iter()
                .map(|k| gaps.get(*k).copied().unwrap_or(0.0))
                .fold(0.0, f64::max);
            if !served_set.contains(&(u.id as usize)) {
                max_gap = max_gap.max(u.blueprint_gap);
            }
        }
        let policy = match style {
            Style::Tutor => SelectionPolicy::default(),
            Style::Review => SelectionPolicy {
                w_info: 0.0,
                w_blueprint: 0.0,
                ..SelectionPolicy::default()
            },
            Style::Exam => {
                // Blueprint only, uniform among the units tied at the largest gap: a mock exam
                // samples the blueprint, it does not adapt to the learner.
                let ties = units
                    .iter()
                    .filter(|u| !served_set.contains(&(u.id as usize)))
                    .filter(|u| u.blueprint_gap >= max_gap - 1e-12)
                    .count();
                SelectionPolicy {
                    w_info: 0.0,
                    w_weak: 0.0,
                    w_uncertain: 0.0,
                    w_due: 0.0,
                    w_blueprint: 1.0,
                    epsilon: 0.0,
                    exposure: Exposure::Randomesque { top_n: ties.max(1) },
                }
            }
        };
        let learner = LearnerView {
            theta,
            kc_mastery: mastery,
            recent: &recent,
        };
        let s = select_next(&units, &learner, &policy, rng)?;
        let reason = match (style, s.reason) {
            // A review session holds due items only: that is why each one is served.
            (Style::Review, _) | (_, ReasonCode::DueReview) => Reason::DueReview,
            (_, ReasonCode::WeakKc) => Reason::WeakKc,
            (_, ReasonCode::MostInformative) => Reason::MostInformative,
            (_, ReasonCode::BlueprintGap) => Reason::BlueprintGap,
            (_, ReasonCode::Exploration) => Reason::Exploration,
        };
        Some((s.id as usize, reason))
    }
}

/// Blueprint share per pool KC: the current blueprint of the subject's year (the learner's
/// faculty first, then national) for this subject, renormalised over the pool's KCs; KCs it
/// does not weigh get no pull; without KC weights, uniform over the pool's KCs.
async fn blueprint_targets<C: ConnectionTrait>(
    c: &C,
    input: &BuildInput<'_>,
    kcs: &[Uuid],
) -> Result<Vec<f64>, TrainingError> {
    let uniform = || {
        if kcs.is_empty() {
            vec![]
        } else {
            vec![1.0 / kcs.len() as f64; kcs.len()]
        }
    };
    let Some(subject_id) = input.session.subject_id else {
        return Ok(uniform());
    };
    let Some(subject) = catalogue_repo::subject::Entity::find_by_id(subject_id)
        .one(c)
        .await?
    else {
        return Ok(uniform());
    };
    let faculty = input.profile.and_then(|p| p.faculty_id);
    let mut bp = catalogue_repo::current_blueprint(c, subject.year_of_study, faculty).await?;
    if bp.is_none() && faculty.is_some() {
        bp = catalogue_repo::current_blueprint(c, subject.year_of_study, None).await?;
    }
    let weights: Option<BlueprintWeights> = bp.and_then(|b| serde_json::from_str(&b.weights).ok());
    let Some(entry) = weights.and_then(|w| {
        w.subjects
            .into_iter()
            .find(|s| s.subject == subject.code && !s.kcs.is_empty())
    }) else {
        return Ok(uniform());
    };
    let codes: HashMap<Uuid, String> = catalogue_repo::kc_tree(c, subject_id)
        .await?
        .into_iter()
        .map(|n| (n.id, n.code))
        .collect();
    let mut target: Vec<f64> = kcs
        .iter()
        .map(|id| {
            codes
                .get(id)
                .and_then(|code| entry.kcs.iter().find(|w| &w.kc == code))
                .map_or(0.0, |w| w.weight)
        })
        .collect();
    let total: f64 = target.iter().sum();
    if total <= 0.0 {
        return Ok(uniform());
    }
    for t in &mut target {
        *t /= total;
    }
    Ok(target)
}
