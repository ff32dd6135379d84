//! `/onboarding`: the learner profile (year of study, exam date, daily time budget) through the
//! training use cases' `profile` / `set_profile`, the same ones the JSON API calls. An account
//! whose address is not confirmed sees why it cannot train yet and where to confirm it.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use myqcm_services::training::views::ProfileInput;
use serde::Deserialize;

use super::forms::{Form, page, see_other, to_sign_in};
use super::{PageContext, render};
use crate::{AppState, WebError};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/onboarding", get(onboarding).post(save))
}

#[derive(Template)]
#[template(path = "onboarding.html")]
struct OnboardingPage {
    ctx: PageContext,
    form: Form,
}

impl OnboardingPage {
    fn years(&self) -> std::ops::RangeInclusive<i32> {
        1..=7
    }

    fn year_selected(&self, y: &i32) -> bool {
        self.form.val("year_of_study") == y.to_string()
    }
}

/// `GET /onboarding`: the profile form, filled with what is already known.
pub async fn onboarding(
    State(state): State<AppState>,
    ctx: PageContext,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/onboarding"));
    };
    let mut form = Form::new();
    if !ctx.unverified() {
        let p = state
            .services
            .training
            .profile(&v.user.actor())
            .await
            .map_err(WebError::from)?;
        let year = p.year_of_study.map(|y| y.to_string()).unwrap_or_default();
        let minutes = p.daily_minutes.map(|m| m.to_string()).unwrap_or_default();
        form = form
            .with("year_of_study", &year)
            .with("exam_date", p.exam_date.as_deref().unwrap_or(""))
            .with("daily_minutes", &minutes);
    }
    Ok(page(form.status(), render(&OnboardingPage { ctx, form })?))
}

/// The onboarding form.
#[derive(Deserialize)]
pub struct OnboardingForm {
    #[serde(default)]
    year_of_study: String,
    #[serde(default)]
    exam_date: String,
    #[serde(default)]
    daily_minutes: String,
}

/// `POST /onboarding`: saves the profile, then the dashboard.
pub async fn save(
    State(state): State<AppState>,
    ctx: PageContext,
    crate::input::PageForm(f): crate::input::PageForm<OnboardingForm>,
) -> Result<Response, WebError> {
    let Some(v) = &ctx.viewer else {
        return Ok(to_sign_in("/onboarding"));
    };
    let form = Form::new()
        .with("year_of_study", &f.year_of_study)
        .with("exam_date", &f.exam_date)
        .with("daily_minutes", &f.daily_minutes);
    let input = ProfileInput {
        year_of_study: f.year_of_study.trim().parse().unwrap_or(0),
        exam_date: Some(f.exam_date.trim().to_owned()).filter(|d| !d.is_empty()),
        daily_minutes: f.daily_minutes.trim().parse().ok(),
        ..ProfileInput::default()
    };
    let form = match state
        .services
        .training
        .set_profile(&v.user.actor(), input)
        .await
    {
        Ok(_) => return Ok(see_other(super::auth::HOME)),
        Err(e) => form.failure(ctx.locale, "year_of_study", e)?,
    };
    Ok(page(form.status(), render(&OnboardingPage { ctx, form })?))
}
