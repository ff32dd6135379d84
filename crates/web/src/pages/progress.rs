//! `/progress`: the learner's progress page — predicted exam score with its band, expected score
//! per subject, weakest KCs with mastery bands and evidence, accuracy trend, reviews due and the
//! 7-day forecast, streak, XP, level and rank. Charts are SVG drawn on the server
//! ([`super::progress_charts`]), each with a table alternative. Same use case as
//! `GET /api/v1/progress`.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use myqcm_services::training::progress::{KcProgress, ProgressView};

use super::forms::{page, see_other, to_sign_in};
use super::progress_charts::{BandChart, BandInput, ColumnChart, LineChart, LinePoint};
use super::{PageContext, render};
use crate::i18n::Locale;
use crate::{AppState, WebError};

/// Answers wanted before the progress figures mean much.
pub const FIRST_ANSWERS: i64 = 10;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/progress", get(progress))
}

/// A localised name from a `{locale: name}` object (French, then the code, as fallbacks).
pub fn name_in(names: &serde_json::Value, locale: Locale, code: &str) -> String {
    names
        .get(locale.tag())
        .or_else(|| names.get("fr"))
        .and_then(|v| v.as_str())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(code)
        .to_owned()
}

/// A fraction as a whole percent, in the page's language.
pub fn percent(ctx: &PageContext, x: f64) -> String {
    ctx.t1("progress-percent", "value", &format!("{:.0}", x * 100.0))
}

/// "70 % ± 11, 14 answers".
pub fn kc_text(ctx: &PageContext, k: &KcProgress) -> String {
    let pm = format!("{:.0}", k.plus_minus * 100.0);
    ctx.locale.t_args(
        "progress-kc-band",
        &[
            ("value", format!("{:.0}", k.mastery * 100.0).into()),
            ("pm", pm.into()),
            ("count", i64::from(k.evidence).into()),
        ],
    )
}

/// A table row of a chart's alternative.
pub struct Row {
    /// First cell.
    pub label: String,
    /// Second cell.
    pub value: String,
}

#[derive(Template)]
#[template(path = "progress/progress.html")]
struct ProgressPage {
    ctx: PageContext,
    p: ProgressView,
    answers_missing: i64,
    totals_pc: Option<String>,
    streak_current: i64,
    streak_longest: i64,
    level: i64,
    top: i64,
    score: Option<String>,
    subjects: String,
    subject_rows: Vec<Row>,
    weakest: String,
    weakest_rows: Vec<Row>,
    trend: String,
    trend_rows: Vec<Row>,
    due: String,
    due_rows: Vec<Row>,
}

/// `GET /progress`.
pub async fn progress(State(s): State<AppState>, ctx: PageContext) -> Result<Response, WebError> {
    let Some(v) = ctx.viewer.as_ref() else {
        return Ok(to_sign_in("/progress"));
    };
    if ctx.unverified() {
        return Ok(see_other("/dashboard"));
    }
    let actor = crate::api::catalogue::actor(&v.user);
    let p = s.services.progress().overview(&actor).await?;
    let html = render(&build(ctx, p)?)?;
    Ok(page(StatusCode::OK, html))
}

fn build(ctx: PageContext, p: ProgressView) -> Result<ProgressPage, WebError> {
    let subject_inputs: Vec<BandInput> = p
        .subjects
        .iter()
        .filter_map(|s| {
            let b = s.expected_score?;
            Some(BandInput {
                label: name_in(&s.names, ctx.locale, &s.code),
                value: b.value,
                low: b.low,
                high: b.high,
                text: ctx.t1("progress-range", "range", &range(&ctx, b.low, b.high)),
            })
        })
        .collect();
    let weakest_inputs: Vec<BandInput> = p
        .weakest_kcs
        .iter()
        .map(|k| BandInput {
            label: name_in(&k.names, ctx.locale, &k.code),
            value: k.mastery,
            low: k.band.low,
            high: k.band.high,
            text: kc_text(&ctx, k),
        })
        .collect();
    let days: Vec<LinePoint> = p
        .trend
        .iter()
        .map(|d| LinePoint {
            value: d.percent_correct,
        })
        .collect();
    let l = ctx.locale;
    let first = p.trend.first().map(|d| l.iso_day_month(&d.date));
    let last = p.trend.last().map(|d| l.iso_day_month(&d.date));
    let (first, last) = (first.unwrap_or_default(), last.unwrap_or_default());
    let due_values: Vec<(String, i64)> = p
        .reviews
        .forecast
        .iter()
        .map(|d| (l.iso_day_month(&d.date), d.due))
        .collect();
    let t = |id: &str| ctx.t(id);
    let subjects = BandChart::new(
        "subjects",
        t("progress-subjects-title"),
        t("progress-subjects-desc"),
        &subject_inputs,
    );
    let weakest = BandChart::new(
        "weakest",
        t("progress-weakest-title"),
        t("progress-weakest-desc"),
        &weakest_inputs,
    );
    let trend = LineChart::new(
        "trend",
        t("progress-trend-title"),
        t("progress-trend-desc"),
        &days,
        first,
        last,
    );
    let due = ColumnChart::new(
        "due",
        t("progress-due-title"),
        t("progress-due-desc"),
        &due_values,
    );
    let rows = |v: &[BandInput]| -> Vec<Row> {
        v.iter()
            .map(|b| Row {
                label: b.label.clone(),
                value: format!("{} ({})", percent(&ctx, b.value), b.text),
            })
            .collect()
    };
    let trend_rows = p
        .trend
        .iter()
        .filter(|d| d.graded > 0)
        .map(|d| Row {
            label: l.iso_date(&d.date),
            value: format!(
                "{} ({}/{})",
                percent(&ctx, d.percent_correct.unwrap_or(0.0)),
                l.number(i64::from(d.correct)),
                l.number(i64::from(d.graded))
            ),
        })
        .collect();
    let due_rows = p
        .reviews
        .forecast
        .iter()
        .map(|d| Row {
            label: l.iso_date(&d.date),
            value: l.number(d.due),
        })
        .collect();
    let score = p.prediction.as_ref().map(|pr| {
        format!(
            "{} ({})",
            percent(&ctx, pr.score.value),
            range(&ctx, pr.score.low, pr.score.high)
        )
    });
    let answers_missing = (FIRST_ANSWERS - i64::from(p.totals.graded)).max(0);
    Ok(ProgressPage {
        subject_rows: rows(&subject_inputs),
        weakest_rows: rows(&weakest_inputs),
        subjects: subjects.render().map_err(WebError::internal)?,
        weakest: weakest.render().map_err(WebError::internal)?,
        trend: trend.render().map_err(WebError::internal)?,
        trend_rows,
        due: due.render().map_err(WebError::internal)?,
        due_rows,
        score,
        answers_missing,
        totals_pc: p.totals.percent_correct.map(|x| percent(&ctx, x)),
        streak_current: i64::from(p.streak.current),
        streak_longest: i64::from(p.streak.longest),
        level: i64::from(p.xp.level),
        top: i64::from(p.xp.top_percent),
        p,
        ctx,
    })
}

/// "48–75 %".
pub fn range(ctx: &PageContext, low: f64, high: f64) -> String {
    ctx.locale.t_args(
        "progress-between",
        &[
            ("low", format!("{:.0}", low * 100.0).into()),
            ("high", format!("{:.0}", high * 100.0).into()),
        ],
    )
}
