//! Set-up shared by the service tests whose cohorts answer through the training use cases.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
#![allow(dead_code, reason = "each test binary uses part of it")]

use myqcm_domain::catalogue::ItemKind;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::permissions::Role;
use myqcm_domain::training::{SessionRequest, Style};
use myqcm_services::training::Training;
use myqcm_services::training::views::{NewSessionInput, ProfileInput, SessionView};
use uuid::Uuid;

/// A new learner (student role, no second factor).
pub fn student() -> Actor {
    Actor {
        id: Uuid::now_v7(),
        roles: vec![Role::Student],
        scopes: vec![],
        mfa_enrolled: false,
    }
}

/// `who` sets a year-3 profile and starts a custom tutor session of 15 QCS/QCM of `subject`.
pub async fn start_session(training: &Training, who: &Actor, subject: Uuid) -> SessionView {
    training
        .set_profile(
            who,
            ProfileInput {
                year_of_study: 3,
                ..ProfileInput::default()
            },
        )
        .await
        .unwrap();
    training
        .create_session(
            who,
            NewSessionInput {
                mode: Some("custom".into()),
                style: Style::Tutor,
                request: SessionRequest {
                    subject: Some(subject),
                    kinds: vec![ItemKind::Qcs, ItemKind::Qcm],
                    item_count: Some(15),
                    ..SessionRequest::default()
                },
            },
        )
        .await
        .unwrap()
}
