//! Routes mounted only when `WebConfig::test_routes` is set, to prove the error mapping holds
//! for failures that real routes should never produce.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};

use crate::error::ApiJson;
use crate::{AppState, WebError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/__test/panic", get(panic))
        .route("/__test/db-error", get(db_error))
        .route("/__test/echo", post(echo))
}

/// A page path that fails like a broken page would (the HTML 500 page).
pub fn pages() -> Router<AppState> {
    Router::new().route("/__test/page-error", get(db_error))
}

#[expect(clippy::panic, reason = "the point of this test route")]
async fn panic() -> &'static str {
    panic!("deliberate test panic at crates/web/src/test_routes.rs:1");
}

async fn db_error(State(state): State<AppState>) -> Result<&'static str, WebError> {
    state.services.failing_query().await?;
    Ok("unreachable")
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Echo {
    message: String,
}

async fn echo(ApiJson(body): ApiJson<Echo>) -> axum::Json<Echo> {
    axum::Json(body)
}
