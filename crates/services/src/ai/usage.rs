//! Accounting of language-model calls and the per-author daily token limit (issue 15).
//!
//! Every call the product makes is recorded in `llm_call` ([`Meter::record`]): its kind
//! ([`CallKind`]), the author it is billed to (the requester of a generation, whoever asked
//! for a KC suggestion; **none** for a QROC grade, so no learner is ever recorded), its request
//! (generation request id, `kc-run/<run>` or `kc/<item>`, `job/<id>` for a grade), the model,
//! the prompt and completion tokens and the estimated cost from the configured prices
//! ([`UsagePolicy`]). A reply that came back unusable was billed all the same: it is recorded
//! with its tokens and the outcome `malformed` ([`Meter::record_failure`]) and counts toward
//! the limit.
//!
//! The daily limit ([`UsagePolicy::daily_tokens_per_author`], Africa/Algiers days) is checked
//! before every call billed to an author ([`Meter::check`]): a call starts only while the
//! author's tokens of the day are under the limit, so a day can end at most one call over it.
//! A generation request or a KC suggestion refused this way made no call.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, TimeZone, Utc};
use myqcm_db::ai::LlmCallRow;
use myqcm_db::{DatabaseConnection, DbError};
use myqcm_domain::Clock;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::localtime::algeria;
use myqcm_domain::permissions::Action;
use myqcm_domain::ports::{LlmError, LlmUsage};
use serde::Serialize;
use uuid::Uuid;

/// Default daily token limit of one author.
pub const DEFAULT_DAILY_TOKENS_PER_AUTHOR: u64 = 200_000;

/// Days of the author's own usage view.
pub const MY_DAYS: i64 = 30;

/// Most calls listed in a usage view.
pub const MAX_CALLS_LISTED: u64 = 100;

/// Prices and the daily limit (`MYQCM_LLM_PRICE_PROMPT_PER_1K`,
/// `MYQCM_LLM_PRICE_COMPLETION_PER_1K`, `MYQCM_LLM_DAILY_TOKENS_PER_AUTHOR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsagePolicy {
    /// Price of 1000 prompt tokens in micro-units of the currency (0 = unknown).
    pub price_prompt_per_1k: u64,
    /// Price of 1000 completion tokens in micro-units of the currency (0 = unknown).
    pub price_completion_per_1k: u64,
    /// Tokens (prompt + completion) one author may use per Africa/Algiers day; 0 = no limit.
    pub daily_tokens_per_author: u64,
}

impl Default for UsagePolicy {
    fn default() -> Self {
        Self {
            price_prompt_per_1k: 0,
            price_completion_per_1k: 0,
            daily_tokens_per_author: DEFAULT_DAILY_TOKENS_PER_AUTHOR,
        }
    }
}

impl UsagePolicy {
    /// Estimated cost of a call in micro-units, rounded to the nearest unit.
    pub fn cost(&self, prompt: u64, completion: u64) -> i64 {
        let milli = u128::from(prompt) * u128::from(self.price_prompt_per_1k)
            + u128::from(completion) * u128::from(self.price_completion_per_1k);
        i64::try_from((milli + 500) / 1000).unwrap_or(i64::MAX)
    }
}

/// What a call was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// One chunk of a generation request.
    Generation,
    /// A KC suggestion (one item).
    KcSuggestion,
    /// A QROC grade (billed to no author).
    Grading,
}

impl CallKind {
    /// `generation`, `kc_suggestion`, `grading`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generation => "generation",
            Self::KcSuggestion => "kc_suggestion",
            Self::Grading => "grading",
        }
    }
}

/// Whether a recorded call's reply could be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The reply was the JSON document asked for.
    Ok,
    /// The reply was billed but unusable: not JSON, not an object, cut short by the output
    /// bound, or not in the schema's shape.
    Malformed,
}

impl CallOutcome {
    /// `ok`, `malformed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Malformed => "malformed",
        }
    }
}

/// The Africa/Algiers day of `at`, `YYYY-MM-DD`.
pub fn day_of(at: DateTime<Utc>) -> String {
    at.with_timezone(&algeria())
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

/// When the Africa/Algiers day of `at` ends (the daily limit resets).
pub fn next_day(at: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = at.with_timezone(&algeria()).date_naive() + Duration::days(1);
    algeria()
        .from_local_datetime(&tomorrow.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map_or(at, |t| t.with_timezone(&Utc))
}

/// The author's tokens of the day reached the limit; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "your daily AI allowance of {limit} tokens is used up ({used} used today); it resets at midnight, Algerian time"
)]
pub struct DailyLimit {
    /// Tokens used today.
    pub used: u64,
    /// The limit.
    pub limit: u64,
    /// When the day ends.
    pub resets_at: DateTime<Utc>,
}

/// Why a usage read or check failed.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// No language model is configured.
    #[error("AI assistance is not available")]
    Unavailable,
    /// The caller may not read this.
    #[error("forbidden")]
    Forbidden,
    /// The daily limit is reached.
    #[error(transparent)]
    Limit(#[from] DailyLimit),
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] DbError),
}

/// What a use case needs to bill its calls: the clock (days) and the policy.
#[derive(Clone, Copy)]
pub struct Billing<'a> {
    /// The clock.
    pub clock: &'a dyn Clock,
    /// Prices and limit.
    pub policy: UsagePolicy,
}

impl std::fmt::Debug for Billing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Billing")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<'a> Billing<'a> {
    /// A meter for calls of `kind` billed to `author`, belonging to `request`.
    pub fn meter(
        self,
        db: &'a DatabaseConnection,
        kind: CallKind,
        author: Option<Uuid>,
        request: Option<String>,
    ) -> Meter<'a> {
        Meter::new(db, self.clock, self.policy, kind, author, request)
    }
}

/// Records the calls of one piece of work and checks the limit before each.
#[derive(Clone)]
pub struct Meter<'a> {
    db: &'a DatabaseConnection,
    clock: &'a dyn Clock,
    policy: UsagePolicy,
    kind: CallKind,
    author: Option<Uuid>,
    request: Option<String>,
}

impl std::fmt::Debug for Meter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("kind", &self.kind)
            .field("author", &self.author)
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl<'a> Meter<'a> {
    /// Calls of `kind` billed to `author` (ignored for [`CallKind::Grading`]: a grade names no
    /// one), belonging to `request`.
    pub fn new(
        db: &'a DatabaseConnection,
        clock: &'a dyn Clock,
        policy: UsagePolicy,
        kind: CallKind,
        author: Option<Uuid>,
        request: Option<String>,
    ) -> Self {
        let author = if kind == CallKind::Grading {
            None
        } else {
            author
        };
        Self {
            db,
            clock,
            policy,
            kind,
            author,
            request,
        }
    }

    /// The meter's clock reading.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Whether one more call may start now: the author's tokens of the day are under the
    /// limit (always for no author or no limit).
    ///
    /// # Errors
    /// [`UsageError::Limit`], storage failures.
    pub async fn check(&self) -> Result<(), UsageError> {
        match self.author {
            Some(author) => check_author(self.db, self.policy, author, self.clock.now()).await,
            None => Ok(()),
        }
    }

    /// Records one call answered with `usage`, its reply usable or not (`outcome`).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn record(&self, usage: &LlmUsage, outcome: CallOutcome) -> Result<(), DbError> {
        let now = self.clock.now();
        let (prompt_tokens, completion_tokens) = (usage.prompt_tokens, usage.completion_tokens);
        let (p, c) = (u64::from(prompt_tokens), u64::from(completion_tokens));
        myqcm_db::ai::insert_call(
            self.db,
            &LlmCallRow {
                id: Uuid::now_v7(),
                at: now.timestamp_millis(),
                day: day_of(now),
                kind: self.kind.as_str().into(),
                author_id: self.author,
                request_id: self.request.clone(),
                model: usage.model.clone(),
                prompt_tokens: i64::from(prompt_tokens),
                completion_tokens: i64::from(completion_tokens),
                cost_micros: self.policy.cost(p, c),
                outcome: outcome.as_str().into(),
            },
        )
        .await
    }

    /// Records the call behind a failed `error` when a reply was received and billed (an
    /// unusable reply, [`LlmError::billed`]) as [`CallOutcome::Malformed`]; a failure with no
    /// reply (timeout, rate limit, transport, refused request) reported no tokens and is not
    /// recorded.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn record_failure(&self, error: &LlmError) -> Result<(), DbError> {
        match error.billed() {
            Some(usage) => self.record(usage, CallOutcome::Malformed).await,
            None => Ok(()),
        }
    }
}

/// Whether `author` may start a call at `now`: their tokens of the day are under the limit
/// (always with no limit).
///
/// # Errors
/// [`UsageError::Limit`], storage failures.
pub async fn check_author(
    db: &DatabaseConnection,
    policy: UsagePolicy,
    author: Uuid,
    now: DateTime<Utc>,
) -> Result<(), UsageError> {
    let limit = policy.daily_tokens_per_author;
    if limit == 0 {
        return Ok(());
    }
    let used = myqcm_db::ai::author_day_tokens(db, author, &day_of(now)).await?;
    let used = u64::try_from(used).unwrap_or(0);
    if used >= limit {
        return Err(DailyLimit {
            used,
            limit,
            resets_at: next_day(now),
        }
        .into());
    }
    Ok(())
}

/// Totals of some calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UsageTotals {
    /// Calls.
    pub calls: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Prompt + completion tokens.
    pub tokens: u64,
    /// Estimated cost, micro-units of the configured currency (0 when no price is set).
    pub cost_micros: u64,
    /// Calls (among `calls`) whose reply was billed but unusable.
    pub failed_calls: u64,
}

impl UsageTotals {
    /// Totals from stored counts (negative ones, which the columns cannot hold, count as 0).
    fn counted(calls: i64, failed: i64, prompt: i64, completion: i64, cost: i64) -> Self {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Self {
            calls: n(calls),
            failed_calls: n(failed),
            prompt_tokens: n(prompt),
            completion_tokens: n(completion),
            tokens: n(prompt) + n(completion),
            cost_micros: n(cost),
        }
    }

    fn add(&mut self, r: &LlmCallRow) {
        let failed = i64::from(r.outcome != CallOutcome::Ok.as_str());
        *self += Self::counted(
            1,
            failed,
            r.prompt_tokens,
            r.completion_tokens,
            r.cost_micros,
        );
    }

    /// Totals of `rows`.
    pub fn of<'r>(rows: impl IntoIterator<Item = &'r LlmCallRow>) -> Self {
        let mut t = Self::default();
        for r in rows {
            t.add(r);
        }
        t
    }
}

impl std::ops::AddAssign for UsageTotals {
    fn add_assign(&mut self, o: Self) {
        self.calls += o.calls;
        self.failed_calls += o.failed_calls;
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.tokens += o.tokens;
        self.cost_micros += o.cost_micros;
    }
}

/// One call as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CallView {
    /// When.
    pub at: DateTime<Utc>,
    /// Africa/Algiers day.
    pub day: String,
    /// `generation`, `kc_suggestion` or `grading`.
    pub kind: String,
    /// Request, KC run or job.
    pub request_id: Option<String>,
    /// Model.
    pub model: String,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Estimated cost (micro-units).
    pub cost_micros: u64,
    /// `ok`, or `malformed` when the reply was billed but unusable (nothing came of it).
    pub outcome: String,
}

impl CallView {
    /// The view of a stored row.
    pub fn of(r: &LlmCallRow) -> Self {
        Self {
            at: DateTime::from_timestamp_millis(r.at).unwrap_or_default(),
            day: r.day.clone(),
            kind: r.kind.clone(),
            request_id: r.request_id.clone(),
            model: r.model.clone(),
            prompt_tokens: u64::try_from(r.prompt_tokens).unwrap_or(0),
            completion_tokens: u64::try_from(r.completion_tokens).unwrap_or(0),
            cost_micros: u64::try_from(r.cost_micros).unwrap_or(0),
            outcome: r.outcome.clone(),
        }
    }
}

/// Totals of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DayTotals {
    /// Africa/Algiers day.
    pub day: String,
    /// Its totals.
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// Totals of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RequestTotals {
    /// Request, KC run or job.
    pub request_id: String,
    /// Kind of its calls.
    pub kind: String,
    /// Its totals.
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// An author's own usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MyUsage {
    /// Today (Africa/Algiers).
    pub today: String,
    /// The daily limit (0 = none).
    pub daily_limit: u64,
    /// Tokens used today.
    pub used_today: u64,
    /// Tokens left today (none when there is no limit).
    pub remaining_today: Option<u64>,
    /// When today's count restarts.
    pub resets_at: DateTime<Utc>,
    /// Totals per day of the last 30 days, newest first (days without calls left out).
    pub days: Vec<DayTotals>,
    /// Totals per request of the listed calls, newest first.
    pub requests: Vec<RequestTotals>,
    /// The newest calls (100 at most).
    pub calls: Vec<CallView>,
}

fn per_day(rows: &[LlmCallRow]) -> Vec<DayTotals> {
    let mut m: BTreeMap<&str, UsageTotals> = BTreeMap::new();
    for r in rows {
        m.entry(r.day.as_str()).or_default().add(r);
    }
    m.into_iter()
        .rev()
        .map(|(day, totals)| DayTotals {
            day: day.to_owned(),
            totals,
        })
        .collect()
}

fn per_request(rows: &[LlmCallRow]) -> Vec<RequestTotals> {
    let mut out: Vec<RequestTotals> = Vec::new();
    for r in rows {
        let Some(id) = &r.request_id else { continue };
        match out.iter_mut().find(|t| &t.request_id == id) {
            Some(t) => t.totals.add(r),
            None => out.push(RequestTotals {
                request_id: id.clone(),
                kind: r.kind.clone(),
                totals: UsageTotals::of([r]),
            }),
        }
    }
    out
}

/// The caller's own usage: today against the limit, the last 30 days, the newest calls and
/// their requests. Authors, reviewers and content admins (whoever may ask the model).
///
/// # Errors
/// [`UsageError::Unavailable`] with no model, [`UsageError::Forbidden`] for learners.
pub async fn mine(
    db: &DatabaseConnection,
    policy: UsagePolicy,
    llm_configured: bool,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<MyUsage, UsageError> {
    if !llm_configured {
        return Err(UsageError::Unavailable);
    }
    if !(actor.can(Action::ItemAuthor)
        || actor.can(Action::ItemReview)
        || actor.can(Action::CatalogueManage))
    {
        return Err(UsageError::Forbidden);
    }
    let today = day_of(now);
    let from = day_of(now - Duration::days(MY_DAYS - 1));
    let rows = myqcm_db::ai::calls_between(db, Some(actor.id), &from, &today, 10_000).await?;
    let days = per_day(&rows);
    let used_today = days
        .iter()
        .find(|d| d.day == today)
        .map_or(0, |d| d.totals.tokens);
    let limit = policy.daily_tokens_per_author;
    let listed: Vec<LlmCallRow> = rows
        .into_iter()
        .take(usize::try_from(MAX_CALLS_LISTED).unwrap_or(100))
        .collect();
    Ok(MyUsage {
        remaining_today: (limit > 0).then(|| limit.saturating_sub(used_today)),
        today,
        daily_limit: limit,
        used_today,
        resets_at: next_day(now),
        days,
        requests: per_request(&listed),
        calls: listed.iter().map(CallView::of).collect(),
    })
}

/// One author's (or no author's: QROC grades, erased accounts) totals of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuthorDay {
    /// Africa/Algiers day.
    pub day: String,
    /// The author billed; none for QROC grades and erased accounts.
    pub author_id: Option<Uuid>,
    /// The author's display name (none when there is no author or the account is gone).
    pub author_name: Option<String>,
    /// The author's email address (same).
    pub author_email: Option<String>,
    /// Kind of call.
    pub kind: String,
    /// Totals.
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// Everyone's usage over some days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AllUsage {
    /// First day (Africa/Algiers).
    pub from: String,
    /// Last day.
    pub to: String,
    /// Days covered (1 to 90).
    pub days: i64,
    /// The daily limit per author (0 = none).
    pub daily_limit: u64,
    /// Totals of the whole period.
    pub totals: UsageTotals,
    /// Per day, author and kind, newest day first, then most tokens first.
    pub rows: Vec<AuthorDay>,
}

/// Most days of the admin view.
pub const MAX_ADMIN_DAYS: i64 = 90;

fn totals_of(r: &myqcm_db::ai::AuthorDayRow) -> UsageTotals {
    UsageTotals::counted(
        r.calls,
        r.failed_calls,
        r.prompt_tokens,
        r.completion_tokens,
        r.cost_micros,
    )
}

/// Everyone's usage over the last `days` days (clamped to 1..=90), for content and finance
/// admins: totals per day, author and kind summed by the database, with each author's name and
/// address.
///
/// # Errors
/// [`UsageError::Unavailable`] with no model, [`UsageError::Forbidden`] for anyone else.
pub async fn all(
    db: &DatabaseConnection,
    policy: UsagePolicy,
    llm_configured: bool,
    actor: &Actor,
    days: i64,
    now: DateTime<Utc>,
) -> Result<AllUsage, UsageError> {
    if !llm_configured {
        return Err(UsageError::Unavailable);
    }
    if !(actor.can(Action::CatalogueManage) || actor.can(Action::FinanceManage)) {
        return Err(UsageError::Forbidden);
    }
    let days = days.clamp(1, MAX_ADMIN_DAYS);
    let to = day_of(now);
    let from = day_of(now - Duration::days(days - 1));
    let groups = myqcm_db::ai::usage_per_author_day(db, &from, &to).await?;
    let mut ids: Vec<Uuid> = groups.iter().filter_map(|g| g.author_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let people: HashMap<Uuid, (String, String)> = myqcm_db::identity::accounts::by_ids(db, &ids)
        .await?
        .into_iter()
        .map(|a| (a.id, (a.display_name, a.email)))
        .collect();
    let mut totals = UsageTotals::default();
    let rows = groups
        .iter()
        .map(|g| {
            let t = totals_of(g);
            totals += t;
            let who = g.author_id.and_then(|a| people.get(&a));
            AuthorDay {
                day: g.day.clone(),
                author_id: g.author_id,
                author_name: who.map(|w| w.0.clone()),
                author_email: who.map(|w| w.1.clone()),
                kind: g.kind.clone(),
                totals: t,
            }
        })
        .collect();
    Ok(AllUsage {
        from,
        to,
        days,
        daily_limit: policy.daily_tokens_per_author,
        totals,
        rows,
    })
}

/// The calls of one request (its status page and the admin view).
///
/// # Errors
/// Storage failures.
pub async fn of_request(db: &DatabaseConnection, request: &str) -> Result<UsageTotals, DbError> {
    Ok(UsageTotals::of(
        &myqcm_db::ai::calls_of_request(db, request).await?,
    ))
}

/// The account export: every call billed to `account`.
///
/// # Errors
/// Storage failures.
pub async fn export(db: &DatabaseConnection, account: Uuid) -> Result<Vec<CallView>, DbError> {
    Ok(myqcm_db::ai::calls_of_author(db, account)
        .await?
        .iter()
        .map(CallView::of)
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn days_are_algerian_and_reset_at_local_midnight() {
        assert_eq!(day_of(at("2026-12-05T23:30:00Z")), "2026-12-06");
        assert_eq!(day_of(at("2026-12-05T22:59:59Z")), "2026-12-05");
        assert_eq!(
            next_day(at("2026-12-05T23:30:00Z")),
            at("2026-12-06T23:00:00Z")
        );
        assert_eq!(
            next_day(at("2026-12-05T10:00:00Z")),
            at("2026-12-05T23:00:00Z")
        );
    }

    #[test]
    fn the_cost_follows_the_prices_per_thousand_tokens() {
        let p = UsagePolicy {
            price_prompt_per_1k: 150,
            price_completion_per_1k: 600,
            daily_tokens_per_author: 0,
        };
        // 2000 × 0.15 + 500 × 0.6 = 300 + 300.
        assert_eq!(p.cost(2000, 500), 600);
        // 1 prompt token: 0.15 rounds to 0; 4 tokens: 0.6 rounds to 1.
        assert_eq!(p.cost(1, 0), 0);
        assert_eq!(p.cost(4, 0), 1);
        assert_eq!(
            UsagePolicy::default().cost(10_000, 10_000),
            0,
            "unknown price"
        );
    }
}
