//! `/onboarding`: the learner profile (year of study, exam date, daily time budget) through the
//! training use cases' `profile` / `set_profile`, the same ones the JSON API calls. An account
//! whose address is not confirmed sees why it cannot train yet and where to confirm it.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use myqcm_services::catalogue::curriculum::{self, UniversityChoice};
use myqcm_services::training::views::{ProfileInput, ProfileView};
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
    institutions: Vec<UniversityChoice>,
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
    let institutions = choices(&state, &ctx).await?;
    if !ctx.unverified() {
        let p = state
            .services
            .training
            .profile(&v.user.actor())
            .await
            .map_err(WebError::from)?;
        form = filled(p, &institutions);
    }
    let p = OnboardingPage {
        ctx,
        form,
        institutions,
    };
    Ok(page(p.form.status(), render(&p)?))
}

/// The form filled from a saved profile.
fn filled(p: ProfileView, institutions: &[UniversityChoice]) -> Form {
    let year = p.year_of_study.map(|y| y.to_string()).unwrap_or_default();
    let minutes = p.daily_minutes.map(|m| m.to_string()).unwrap_or_default();
    Form::new()
        .with("year_of_study", &year)
        .with("exam_date", p.exam_date.as_deref().unwrap_or(""))
        .with("daily_minutes", &minutes)
        .with("faculty", faculty_code(institutions, p.faculty_id))
}

/// The code of the faculty `id` among the choices (empty when none).
pub fn faculty_code(institutions: &[UniversityChoice], id: Option<uuid::Uuid>) -> &str {
    institutions
        .iter()
        .flat_map(|u| &u.faculties)
        .find(|f| Some(f.id) == id)
        .map_or("", |f| f.code.as_str())
}

/// The picker's universities and faculties in the page's language.
pub async fn choices(
    state: &AppState,
    ctx: &PageContext,
) -> Result<Vec<UniversityChoice>, WebError> {
    Ok(curriculum::institution_choices(&state.services.db, ctx.lang()).await?)
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
    #[serde(default)]
    faculty: String,
}

impl OnboardingForm {
    /// What was typed, to show again.
    fn kept(&self) -> Form {
        Form::new()
            .with("year_of_study", &self.year_of_study)
            .with("exam_date", &self.exam_date)
            .with("daily_minutes", &self.daily_minutes)
            .with("faculty", &self.faculty)
    }

    /// The use case's input (unparsable numbers become values the service refuses).
    fn input(&self) -> ProfileInput {
        ProfileInput {
            faculty: Some(self.faculty.trim().to_owned()).filter(|c| !c.is_empty()),
            year_of_study: self.year_of_study.trim().parse().unwrap_or(0),
            exam_date: Some(self.exam_date.trim().to_owned()).filter(|d| !d.is_empty()),
            daily_minutes: self.daily_minutes.trim().parse().ok(),
            ..ProfileInput::default()
        }
    }
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
    let actor = v.user.actor();
    let form = match state.services.training.set_profile(&actor, f.input()).await {
        Ok(_) => return Ok(see_other(super::auth::HOME)),
        Err(e) => f.kept().failure(ctx.locale, "year_of_study", e)?,
    };
    let institutions = choices(&state, &ctx).await?;
    let p = OnboardingPage {
        ctx,
        form,
        institutions,
    };
    Ok(page(p.form.status(), render(&p)?))
}
