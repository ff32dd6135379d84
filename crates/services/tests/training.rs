//! Training use cases against a real database (SQLite by default, PostgreSQL with
//! `MYQCM_TEST_DATABASE_URL`), on the demo bank: sessions in every style, exactly-once answers
//! under concurrency, ownership, clinical cases served one sub-item at a time, ungraded answers,
//! pools, pause and expiry, entitlements.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::Duration;
use myqcm_db::catalogue as catalogue_repo;
use myqcm_db::training as repo;
use myqcm_db::{DatabaseConnection, DatabaseTransaction};
use myqcm_domain::FixedClock;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::catalogue::{ItemContent, ItemKind};
use myqcm_domain::entitlements::{Allowance, EntitlementError, Entitlements, Feature};
use myqcm_domain::permissions::{AdminScope, Role};
use myqcm_domain::training::{Definer, Definers, PoolFilter, SessionRequest, Style};
use myqcm_services::import;
use myqcm_services::training::views::{
    AnswerInput, ModeInput, NewSessionInput, Next, ProfileInput, ServedItemView, SessionView,
};
use myqcm_services::training::{Training, TrainingConfig, TrainingError};
use myqcm_testkit::{TestDb, epoch, fixed_clock, test_db};
use uuid::Uuid;

fn student() -> Actor {
    Actor {
        id: Uuid::now_v7(),
        roles: vec![Role::Student],
        scopes: vec![],
        mfa_enrolled: false,
    }
}

struct Env {
    db: TestDb,
    clock: FixedClock,
    training: Training,
}

async fn env_with(entitlements: Option<myqcm_services::training::EntitlementsPort>) -> Env {
    let db = test_db().await.unwrap();
    let r = import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    assert!(r.committed, "{:?}", r.errors);
    let clock = fixed_clock();
    let training = match entitlements {
        None => Training::open(db.conn.clone(), Arc::new(clock.clone())).unwrap(),
        Some(e) => Training::new(
            db.conn.clone(),
            Arc::new(clock.clone()),
            e,
            TrainingConfig::default(),
        )
        .unwrap(),
    };
    Env {
        db,
        clock,
        training,
    }
}

async fn env() -> Env {
    env_with(None).await
}

impl Env {
    async fn learner(&self) -> Actor {
        let a = student();
        self.training
            .set_profile(
                &a,
                ProfileInput {
                    year_of_study: 3,
                    ..ProfileInput::default()
                },
            )
            .await
            .unwrap();
        a
    }

    async fn subject(&self, code: &str) -> Uuid {
        catalogue_repo::subject_by_code(&*self.db, code)
            .await
            .unwrap()
            .unwrap()
            .id
    }

    async fn course(&self, code: &str) -> Uuid {
        catalogue_repo::course_by_code(&*self.db, code)
            .await
            .unwrap()
            .unwrap()
            .id
    }

    async fn start(
        &self,
        who: &Actor,
        mode: &str,
        style: Style,
        request: SessionRequest,
    ) -> Result<SessionView, TrainingError> {
        self.training
            .create_session(
                who,
                NewSessionInput {
                    mode: Some(mode.into()),
                    style,
                    request,
                },
            )
            .await
    }
}

/// The key of a served item, read from the database (what the learner cannot see).
async fn content(db: &DatabaseConnection, item: &ServedItemView) -> ItemContent {
    let rev = catalogue_repo::revision(db, item.revision_id)
        .await
        .unwrap()
        .unwrap();
    serde_json::from_str(&rev.content).unwrap()
}

async fn right_answer(db: &DatabaseConnection, item: &ServedItemView) -> AnswerInput {
    let c = content(db, item).await;
    match c.kind {
        ItemKind::Qroc => AnswerInput {
            served_id: item.served_id,
            options: None,
            text: Some(c.qroc.unwrap().expected),
        },
        _ => AnswerInput {
            served_id: item.served_id,
            options: Some(
                (0..c.options.len())
                    .filter(|i| c.options[*i].correct)
                    .collect(),
            ),
            text: None,
        },
    }
}

async fn wrong_answer(db: &DatabaseConnection, item: &ServedItemView) -> AnswerInput {
    let c = content(db, item).await;
    match c.kind {
        ItemKind::Qroc => AnswerInput {
            served_id: item.served_id,
            options: None,
            text: Some("zzz".into()),
        },
        _ => AnswerInput {
            served_id: item.served_id,
            options: Some(vec![
                (0..c.options.len())
                    .find(|i| !c.options[*i].correct)
                    .unwrap(),
            ]),
            text: None,
        },
    }
}

fn item_of(next: &Next) -> &ServedItemView {
    match next {
        Next::Item(v) => v,
        Next::End(e) => panic!("session ended: {e:?}"),
    }
}

fn request(subject: Uuid) -> SessionRequest {
    SessionRequest {
        subject: Some(subject),
        ..SessionRequest::default()
    }
}

#[tokio::test]
async fn the_profile_is_read_set_and_validated() {
    let e = env().await;
    let a = student();
    let p = e.training.profile(&a).await.unwrap();
    assert!(!p.complete);
    assert_eq!(p.mode, "guided");
    let set = e
        .training
        .set_profile(
            &a,
            ProfileInput {
                year_of_study: 3,
                exam_date: Some("2026-06-15".into()),
                daily_minutes: Some(45),
                mode: Some("intelligent".into()),
                ..ProfileInput::default()
            },
        )
        .await
        .unwrap();
    assert!(set.complete);
    assert_eq!(
        (set.year_of_study, set.daily_minutes, set.mode.as_str()),
        (Some(3), Some(45), "intelligent")
    );
    assert_eq!(e.training.profile(&a).await.unwrap(), set);
    let bad = e
        .training
        .set_profile(
            &a,
            ProfileInput {
                year_of_study: 9,
                exam_date: Some("2025-01-01".into()),
                daily_minutes: Some(2),
                mode: Some("turbo".into()),
                faculty_id: Some(Uuid::now_v7()),
                ..ProfileInput::default()
            },
        )
        .await;
    let Err(TrainingError::Invalid(errs)) = bad else {
        panic!("{bad:?}")
    };
    let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "year_of_study",
            "daily_minutes",
            "exam_date",
            "mode",
            "faculty_id"
        ]
    );
    let author = Actor {
        id: Uuid::now_v7(),
        roles: vec![Role::Author],
        scopes: vec![],
        mfa_enrolled: false,
    };
    assert!(matches!(
        e.training.profile(&author).await,
        Err(TrainingError::Forbidden)
    ));
}

#[tokio::test]
async fn a_tutor_session_grades_gives_feedback_updates_the_state_and_ends() {
    let e = env().await;
    let a = e.learner().await;
    let cardio = e.subject("cardio").await;
    let s = e
        .start(
            &a,
            "custom",
            Style::Tutor,
            SessionRequest {
                kinds: vec![ItemKind::Qcs, ItemKind::Qcm],
                item_count: Some(4),
                ..request(cardio)
            },
        )
        .await
        .unwrap();
    assert_eq!((s.style.as_str(), s.status.as_str()), ("tutor", "active"));
    let mut item = s.current.clone().unwrap();
    // Nothing in a served item reveals the key.
    let c = content(&e.db, &item).await;
    let json = serde_json::to_string(&item).unwrap();
    assert!(!json.contains("\"correct\""), "{json}");
    for o in &c.options {
        if !o.explanation.trim().is_empty() {
            assert!(!json.contains(o.explanation.trim()), "explanation leaked");
        }
    }
    let labels: Vec<&str> = item.options.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(labels, ["A", "B", "C", "D", "E"][..item.options.len()]);
    let mut ids: Vec<usize> = item.options.iter().map(|o| o.id).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (0..c.options.len()).collect::<Vec<_>>(),
        "every option, once"
    );
    let mut outcomes = Vec::new();
    for k in 0..4 {
        assert_eq!(item.position, k + 1);
        assert!(item.case.is_none() || item.case.as_ref().unwrap().step >= 1);
        let answer = if k == 1 {
            wrong_answer(&e.db, &item).await
        } else {
            right_answer(&e.db, &item).await
        };
        let out = e.training.answer(&a, s.id, answer).await.unwrap();
        assert!(!out.repeat);
        let g = out.grade.clone().unwrap();
        assert!(g.graded);
        if k == 1 {
            assert_eq!(g.correct, Some(false));
        } else {
            assert_eq!((g.ratio, g.correct), (Some(1.0), Some(true)));
        }
        let fb = out.feedback.clone().unwrap();
        let key = content(&e.db, &item).await;
        if key.kind != ItemKind::Qroc {
            assert_eq!(fb.options.len(), key.options.len());
            for o in &fb.options {
                assert_eq!(o.correct, key.options[o.id].correct);
            }
        }
        outcomes.push(out.clone());
        match out.next {
            Next::Item(v) => item = *v,
            Next::End(end) => {
                assert_eq!(k, 3, "ended early: {end:?}");
                assert_eq!(end.reason, "finished");
            }
        }
    }
    let sum = e.training.summary(&a, s.id).await.unwrap();
    assert_eq!(sum.status, "completed");
    assert!(sum.served >= 4);
    assert_eq!((sum.graded, sum.correct, sum.incorrect), (4, 3, 1));
    assert_eq!(sum.percent_correct, Some(75.0));
    assert!(!sum.per_kc.is_empty());
    assert!(sum.per_kc.iter().all(|k| k.code.starts_with("kc-cardio")));
    // The learner state moved: one ability row in the subject, KC evidence, memories.
    let ab = repo::ability(&*e.db, a.id, cardio, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ab.answers, 4);
    assert!(ab.se < 1.0);
    let kcs = repo::kc_states(&*e.db, a.id, &[], false).await.unwrap();
    assert!(!kcs.is_empty() && kcs.iter().all(|k| k.evidence >= 1));
    let history = repo::attempt_history(&*e.db, a.id).await.unwrap();
    assert_eq!(history.len(), 4);
    // Every served item stored the model's prediction and a reason.
    let items = repo::session_items(&*e.db, s.id).await.unwrap();
    assert!(
        items
            .iter()
            .all(|i| i.p_correct.is_some_and(|p| (0.0..=1.0).contains(&p)))
    );
    // Sending the last answer again returns the stored result, and the end.
    let again = e
        .training
        .answer(&a, s.id, right_answer(&e.db, &item).await)
        .await
        .unwrap();
    assert!(again.repeat);
    assert_eq!(again.grade, outcomes[3].grade);
    assert!(matches!(again.next, Next::End(ref end) if end.reason == "finished"));
    assert_eq!(
        repo::attempts_of_session(&*e.db, s.id).await.unwrap().len(),
        4
    );
    // A new answer in the closed session is refused.
    let s2 = e
        .start(&a, "custom", Style::Tutor, request(cardio))
        .await
        .unwrap();
    let open = s2.current.unwrap();
    e.training.finish(&a, s2.id).await.unwrap();
    let late = AnswerInput {
        served_id: open.served_id,
        ..right_answer(&e.db, &open).await
    };
    assert!(matches!(
        e.training.answer(&a, s2.id, late).await,
        Err(TrainingError::NotCurrent)
    ));
}

#[tokio::test]
async fn the_same_answer_sent_twenty_times_at_once_is_stored_and_learned_once() {
    let e = env().await;
    let a = e.learner().await;
    let cardio = e.subject("cardio").await;
    let s = e
        .start(
            &a,
            "custom",
            Style::Tutor,
            SessionRequest {
                kinds: vec![ItemKind::Qcs],
                item_count: Some(3),
                ..request(cardio)
            },
        )
        .await
        .unwrap();
    let item = s.current.clone().unwrap();
    let answer = right_answer(&e.db, &item).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let t = e.training.clone();
        let a = a.clone();
        let ans = answer.clone();
        tasks.push(tokio::spawn(async move {
            t.answer(&a, s.id, ans).await.unwrap()
        }));
    }
    let mut outs = Vec::new();
    for t in tasks {
        outs.push(t.await.unwrap());
    }
    assert_eq!(outs.iter().filter(|o| !o.repeat).count(), 1);
    assert!(outs.iter().all(|o| o.grade == outs[0].grade));
    let firsts: Vec<_> = outs.iter().map(|o| item_of(&o.next).served_id).collect();
    assert!(
        firsts.iter().all(|n| *n == firsts[0]),
        "every response points at the same next item"
    );
    assert_eq!(
        repo::attempts_of_session(&*e.db, s.id).await.unwrap().len(),
        1
    );
    assert_eq!(repo::session_items(&*e.db, s.id).await.unwrap().len(), 2);
    let ab = repo::ability(&*e.db, a.id, cardio, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ab.answers, 1, "one state update");
    for k in repo::kc_states(&*e.db, a.id, &[], false).await.unwrap() {
        assert_eq!(k.evidence, 1);
    }
    let mem = repo::memory(&*e.db, a.id, item.item_id, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mem.reviews, 1);
}

#[tokio::test]
async fn a_finished_session_leaves_no_pool_in_the_cache() {
    let e = env().await;
    let a = e.learner().await;
    let cardio = e.subject("cardio").await;
    let s = e
        .start(
            &a,
            "custom",
            Style::Tutor,
            SessionRequest {
                kinds: vec![ItemKind::Qcs],
                item_count: Some(3),
                ..request(cardio)
            },
        )
        .await
        .unwrap();
    assert_eq!(e.training.cached_pools(), 1, "the open session's pool");
    let mut item = s.current.clone().unwrap();
    loop {
        let out = e
            .training
            .answer(&a, s.id, right_answer(&e.db, &item).await)
            .await
            .unwrap();
        match out.next {
            Next::Item(v) => {
                assert_eq!(e.training.cached_pools(), 1);
                item = *v;
            }
            Next::End(end) => {
                assert_eq!(end.reason, "finished");
                break;
            }
        }
    }
    assert_eq!(e.training.cached_pools(), 0, "dropped at the end");
}

#[tokio::test]
async fn another_learners_session_is_not_found() {
    let e = env().await;
    let owner = e.learner().await;
    let intruder = e.learner().await;
    let cardio = e.subject("cardio").await;
    let s = e
        .start(&owner, "custom", Style::Tutor, request(cardio))
        .await
        .unwrap();
    let item = s.current.clone().unwrap();
    let t = &e.training;
    let nf =
        |r: Result<(), TrainingError>| assert!(matches!(r, Err(TrainingError::NotFound)), "{r:?}");
    nf(t.answer(&intruder, s.id, right_answer(&e.db, &item).await)
        .await
        .map(|_| ()));
    nf(t.session(&intruder, s.id).await.map(|_| ()));
    nf(t.resume(&intruder, s.id).await.map(|_| ()));
    nf(t.pause(&intruder, s.id).await.map(|_| ()));
    nf(t.skip(&intruder, s.id, item.served_id).await.map(|_| ()));
    nf(t.flag(&intruder, s.id, item.served_id, true).await);
    nf(t.note(&intruder, s.id, item.served_id, "x").await);
    nf(t.summary(&intruder, s.id).await.map(|_| ()));
    nf(t.review(&intruder, s.id).await.map(|_| ()));
    nf(t.finish(&intruder, s.id).await.map(|_| ()));
    // Nothing changed for the owner.
    let again = t.session(&owner, s.id).await.unwrap();
    assert_eq!(again.current.unwrap().served_id, item.served_id);
    assert!(!repo::session_items(&*e.db, s.id).await.unwrap()[0].flagged);
    // A served id of another session is not found either.
    let other = e
        .start(&intruder, "custom", Style::Tutor, request(cardio))
        .await
        .unwrap();
    let foreign = AnswerInput {
        served_id: item.served_id,
        ..right_answer(&e.db, &item).await
    };
    nf(t.answer(&intruder, other.id, foreign).await.map(|_| ()));
}

#[tokio::test]
async fn a_clinical_case_is_served_one_sub_item_at_a_time() {
    let e = env().await;
    let a = e.learner().await;
    let cardio = e.subject("cardio").await;
    let coro = e.course("cardio-coro").await;
    let s = e
        .start(
            &a,
            "custom",
            Style::Tutor,
            SessionRequest {
                courses: vec![coro],
                item_count: Some(40),
                ..request(cardio)
            },
        )
        .await
        .unwrap();
    let mut seen: Vec<String> = vec![serde_json::to_string(&s).unwrap()];
    let mut item = s.current.clone().unwrap();
    // Skip standalone items until the case comes.
    while item.case.is_none() {
        let next = e.training.skip(&a, s.id, item.served_id).await.unwrap();
        seen.push(serde_json::to_string(&next).unwrap());
        item = item_of(&next).clone();
    }
    let case = item.case.clone().unwrap();
    assert_eq!((case.step, case.size), (1, 4));
    assert!(!case.scenario_html.is_empty());
    let subs = catalogue_repo::case_items(&*e.db, case.case_id)
        .await
        .unwrap();
    let mut stems = Vec::new();
    for sub in &subs {
        let rev = catalogue_repo::revision(&*e.db, sub.current_revision_id.unwrap())
            .await
            .unwrap()
            .unwrap();
        let c: ItemContent = serde_json::from_str(&rev.content).unwrap();
        stems.push(myqcm_services::markdown::render(&c.stem));
    }
    for step in 1..=4usize {
        assert_eq!(item.case.as_ref().unwrap().step, step as i32);
        assert_eq!(item.stem_html, stems[step - 1]);
        if step > 1 {
            assert_eq!(item.reason.code, "case_continuation");
        }
        // No response so far carries a later sub-item's stem.
        let resumed = serde_json::to_string(&e.training.session(&a, s.id).await.unwrap()).unwrap();
        seen.push(resumed);
        for later in &stems[step..] {
            for r in &seen {
                assert!(
                    !r.contains(later.as_str()),
                    "stem of a later sub-item sent at step {step}"
                );
            }
        }
        let out = e
            .training
            .answer(&a, s.id, right_answer(&e.db, &item).await)
            .await
            .unwrap();
        seen.push(serde_json::to_string(&out).unwrap());
        if step < 4 {
            item = item_of(&out.next).clone();
            assert_eq!(item.case.as_ref().unwrap().case_id, case.case_id);
        }
    }
}

#[tokio::test]
async fn exams_hold_feedback_until_the_end_and_stop_when_time_is_up() {
    let e = env().await;
    let a = e.learner().await;
    let nephro = e.subject("nephro").await;
    let s = e
        .start(
            &a,
            "custom",
            Style::Exam,
            SessionRequest {
                item_count: Some(5),
                time_limit_seconds: Some(600),
                ..request(nephro)
            },
        )
        .await
        .unwrap();
    assert_eq!(s.remaining_ms, Some(600_000));
    let item = s.current.clone().unwrap();
    let out = e
        .training
        .answer(&a, s.id, right_answer(&e.db, &item).await)
        .await
        .unwrap();
    assert!(out.grade.is_none() && out.feedback.is_none());
    let replay = e.training.review(&a, s.id).await.unwrap();
    assert!(
        replay
            .iter()
            .all(|r| r.feedback.is_none() && r.grade.is_none())
    );
    // Nor does the summary of the running exam tell how the answer went.
    let running = e.training.summary(&a, s.id).await.unwrap();
    assert_eq!(
        (running.answered, running.graded, running.correct),
        (1, 0, 0)
    );
    assert_eq!((running.percent_correct, running.mean_score), (None, None));
    assert!(running.per_kc.is_empty());
    // Pausing stops the clock.
    e.clock.advance(Duration::seconds(100));
    e.training.pause(&a, s.id).await.unwrap();
    e.clock.advance(Duration::seconds(1_000));
    let paused = e.training.session(&a, s.id).await.unwrap();
    assert_eq!(paused.remaining_ms, Some(500_000));
    let next = item_of(&out.next).clone();
    assert!(matches!(
        e.training
            .answer(&a, s.id, right_answer(&e.db, &next).await)
            .await,
        Err(TrainingError::SessionPaused)
    ));
    let resumed = e.training.resume(&a, s.id).await.unwrap();
    assert_eq!(resumed.remaining_ms, Some(500_000));
    // The open item's answering time excludes the pause.
    e.clock.advance(Duration::seconds(20));
    e.training
        .answer(&a, s.id, right_answer(&e.db, &next).await)
        .await
        .unwrap();
    let attempts = repo::attempts_of_session(&*e.db, s.id).await.unwrap();
    assert_eq!(attempts[1].time_spent_ms, 120_000);
    // Time runs out: the next action ends the session.
    e.clock.advance(Duration::seconds(600));
    let view = e.training.session(&a, s.id).await.unwrap();
    assert!(view.time_up);
    let third = view.current.unwrap();
    assert!(matches!(
        e.training
            .answer(&a, s.id, right_answer(&e.db, &third).await)
            .await,
        Err(TrainingError::TimeUp)
    ));
    let sum = e.training.summary(&a, s.id).await.unwrap();
    assert_eq!(
        (sum.status.as_str(), sum.end_reason.as_deref()),
        ("completed", Some("time_up"))
    );
    assert_eq!((sum.graded, sum.correct, sum.skipped), (2, 2, 1));
    let replay = e.training.review(&a, s.id).await.unwrap();
    assert!(replay.iter().all(|r| r.feedback.is_some()));
    assert_eq!(replay[0].grade.as_ref().unwrap().correct, Some(true));
    // Full mocks cannot pause.
    let mock = e
        .start(
            &a,
            "custom",
            Style::Exam,
            SessionRequest {
                full_mock: true,
                item_count: Some(10),
                ..request(nephro)
            },
        )
        .await
        .unwrap();
    assert_eq!(mock.params.time_limit_seconds, Some(900));
    assert!(matches!(
        e.training.pause(&a, mock.id).await,
        Err(TrainingError::NoPause)
    ));
}

#[tokio::test]
async fn a_blank_qroc_is_stored_ungraded_and_feeds_no_model() {
    let counter = Arc::new(Counting::new(1_000));
    let e = env_with(Some(counter.clone())).await;
    let a = e.learner().await;
    let pneumo = e.subject("pneumo").await;
    let s = e
        .start(
            &a,
            "custom",
            Style::Tutor,
            SessionRequest {
                kinds: vec![ItemKind::Qroc],
                item_count: Some(3),
                ..request(pneumo)
            },
        )
        .await
        .unwrap();
    let item = s.current.clone().unwrap();
    assert_eq!(item.kind, "qroc");
    assert!(item.options.is_empty());
    let out = e
        .training
        .answer(
            &a,
            s.id,
            AnswerInput {
                served_id: item.served_id,
                options: None,
                text: Some("  . ".into()),
            },
        )
        .await
        .unwrap();
    let g = out.grade.unwrap();
    assert!(!g.graded);
    assert_eq!((g.ratio, g.correct), (None, None));
    assert_eq!(g.ungraded_reason.as_deref(), Some("blank"));
    assert!(out.feedback.unwrap().expected_answer.is_some());
    assert!(
        repo::ability(&*e.db, a.id, pneumo, false)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        repo::kc_states(&*e.db, a.id, &[], false)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        repo::memory(&*e.db, a.id, item.item_id, false)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        counter.consumed.load(Ordering::SeqCst),
        0,
        "ungraded answers consume nothing"
    );
    let next = item_of(&out.next).clone();
    let out = e
        .training
        .answer(&a, s.id, right_answer(&e.db, &next).await)
        .await
        .unwrap();
    assert_eq!(out.grade.unwrap().ratio, Some(1.0));
    assert_eq!(counter.consumed.load(Ordering::SeqCst), 1);
    let sum = e.training.summary(&a, s.id).await.unwrap();
    assert_eq!((sum.answered, sum.graded, sum.ungraded), (2, 1, 1));
    // Options for a QROC are refused before anything is stored.
    let third = item_of(&out.next).clone();
    let bad = e
        .training
        .answer(
            &a,
            s.id,
            AnswerInput {
                served_id: third.served_id,
                options: Some(vec![0]),
                text: None,
            },
        )
        .await;
    assert!(matches!(bad, Err(TrainingError::Invalid(_))), "{bad:?}");
    assert_eq!(
        repo::attempts_of_session(&*e.db, s.id).await.unwrap().len(),
        2
    );
}

/// Entitlements that count consumption and refuse beyond a limit.
#[derive(Debug)]
struct Counting {
    limit: u64,
    consumed: AtomicU64,
}

impl Counting {
    fn new(limit: u64) -> Self {
        Self {
            limit,
            consumed: AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl Entitlements for Counting {
    type Tx = DatabaseTransaction;
    async fn allowance(&self, _: Uuid, f: Feature) -> Result<Allowance, EntitlementError> {
        Ok(match f {
            Feature::Explanations => Allowance::Denied,
            _ => Allowance::Remaining(
                self.limit
                    .saturating_sub(self.consumed.load(Ordering::SeqCst)),
            ),
        })
    }
    async fn consume(
        &self,
        _: &DatabaseTransaction,
        _: Uuid,
        _: Feature,
        n: u64,
    ) -> Result<(), EntitlementError> {
        self.consumed.fetch_add(n, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn an_exhausted_allowance_refuses_graded_answers_and_explanations_follow_the_plan() {
    let counter = Arc::new(Counting::new(1));
    let e = env_with(Some(counter.clone())).await;
    let a = e.learner().await;
    let cardio = e.subject("cardio").await;
    let s = e
        .start(
            &a,
            "custom",
            Style::Tutor,
            SessionRequest {
                kinds: vec![ItemKind::Qcs],
                ..request(cardio)
            },
        )
        .await
        .unwrap();
    let item = s.current.clone().unwrap();
    let out = e
        .training
        .answer(&a, s.id, right_answer(&e.db, &item).await)
        .await
        .unwrap();
    let fb = out.feedback.unwrap();
    assert!(
        fb.explanation_html.is_none(),
        "the plan has no explanations"
    );
    assert!(fb.options.iter().all(|o| o.explanation_html.is_none()));
    assert!(
        fb.options.iter().any(|o| o.correct),
        "the key is always shown"
    );
    let next = item_of(&out.next).clone();
    let refused = e
        .training
        .answer(&a, s.id, right_answer(&e.db, &next).await)
        .await;
    assert!(
        matches!(
            refused,
            Err(TrainingError::QuotaExhausted(x)) if x.feature == Feature::McqAnswer
        ),
        "{refused:?}"
    );
    assert_eq!(
        repo::attempts_of_session(&*e.db, s.id).await.unwrap().len(),
        1
    );
    assert_eq!(counter.consumed.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn skips_flags_notes_and_the_flagged_and_incorrect_pools() {
    let e = env().await;
    let a = e.learner().await;
    let cardio = e.subject("cardio").await;
    let s = e
        .start(
            &a,
            "custom",
            Style::Tutor,
            SessionRequest {
                kinds: vec![ItemKind::Qcs],
                item_count: Some(3),
                ..request(cardio)
            },
        )
        .await
        .unwrap();
    let first = s.current.clone().unwrap();
    e.training
        .flag(&a, s.id, first.served_id, true)
        .await
        .unwrap();
    e.training
        .note(&a, s.id, first.served_id, "  Revoir les seuils  ")
        .await
        .unwrap();
    let view = e.training.session(&a, s.id).await.unwrap().current.unwrap();
    assert!(view.flagged);
    assert_eq!(view.note.as_deref(), Some("Revoir les seuils"));
    let next = e.training.skip(&a, s.id, first.served_id).await.unwrap();
    let second = item_of(&next).clone();
    assert_ne!(second.item_id, first.item_id);
    // Skipping twice returns the same state; the skipped item cannot be answered.
    let again = e.training.skip(&a, s.id, first.served_id).await.unwrap();
    assert_eq!(item_of(&again).served_id, second.served_id);
    assert!(matches!(
        e.training
            .answer(&a, s.id, right_answer(&e.db, &first).await)
            .await,
        Err(TrainingError::NotCurrent)
    ));
    let out = e
        .training
        .answer(&a, s.id, wrong_answer(&e.db, &second).await)
        .await
        .unwrap();
    assert_eq!(out.grade.unwrap().correct, Some(false));
    e.training.finish(&a, s.id).await.unwrap();

    // Flagged pool: only the flagged item, then the pool runs dry and says which filter to drop.
    let f = e
        .start(
            &a,
            "custom",
            Style::Tutor,
            SessionRequest {
                pool: PoolFilter::Flagged,
                item_count: Some(5),
                ..request(cardio)
            },
        )
        .await
        .unwrap();
    let only = f.current.clone().unwrap();
    assert_eq!(only.item_id, first.item_id);
    let end = e.training.skip(&a, f.id, only.served_id).await.unwrap();
    let Next::End(end) = end else {
        panic!("{end:?}")
    };
    assert_eq!(end.reason, "pool_exhausted");
    assert!(
        end.widen
            .iter()
            .any(|w| w.drop == "pool" && w.available > 10)
    );
    // Read again later (the end page): the same filters, from a pool built again, since the
    // ended session's pool left the cache.
    let again = e.training.session(&a, f.id).await.unwrap().end.unwrap();
    assert_eq!(again.widen, end.widen);
    // Incorrect pool: the item answered wrongly.
    let i = e
        .start(
            &a,
            "custom",
            Style::Tutor,
            SessionRequest {
                pool: PoolFilter::Incorrect,
                ..request(cardio)
            },
        )
        .await
        .unwrap();
    assert_eq!(i.current.unwrap().item_id, second.item_id);
    // Unused pool: neither of the two.
    let u = e
        .start(
            &a,
            "custom",
            Style::Tutor,
            SessionRequest {
                pool: PoolFilter::Unused,
                item_count: Some(1),
                ..request(cardio)
            },
        )
        .await
        .unwrap();
    let served = u.current.unwrap().item_id;
    assert!(served != first.item_id && served != second.item_id);
    // Nothing matches: refused with the filters to widen.
    let other = e.learner().await;
    let none = e
        .start(
            &other,
            "custom",
            Style::Tutor,
            SessionRequest {
                pool: PoolFilter::Flagged,
                ..request(cardio)
            },
        )
        .await;
    let Err(TrainingError::NothingToServe(w)) = none else {
        panic!("{none:?}")
    };
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].drop, "pool");
}

#[tokio::test]
async fn review_sessions_serve_due_items_across_subjects() {
    let e = env().await;
    let a = e.learner().await;
    let mut answered = Vec::new();
    for code in ["cardio", "pneumo"] {
        let subject = e.subject(code).await;
        let s = e
            .start(
                &a,
                "custom",
                Style::Tutor,
                SessionRequest {
                    kinds: vec![ItemKind::Qcs],
                    item_count: Some(2),
                    ..request(subject)
                },
            )
            .await
            .unwrap();
        let mut item = s.current.clone().unwrap();
        loop {
            answered.push(item.item_id);
            let out = e
                .training
                .answer(&a, s.id, wrong_answer(&e.db, &item).await)
                .await
                .unwrap();
            match out.next {
                Next::Item(v) => item = *v,
                Next::End(_) => break,
            }
        }
    }
    // Nothing is due right after answering.
    let early = e
        .start(&a, "custom", Style::Review, SessionRequest::default())
        .await;
    assert!(
        matches!(early, Err(TrainingError::NothingToServe(_))),
        "{early:?}"
    );
    e.clock.advance(Duration::days(30));
    let r = e
        .start(&a, "custom", Style::Review, SessionRequest::default())
        .await
        .unwrap();
    assert_eq!(r.subject_id, None);
    let mut item = r.current.clone().unwrap();
    let mut reviewed = vec![item.item_id];
    assert_eq!(item.reason.code, "due_review");
    loop {
        let out = e
            .training
            .answer(&a, r.id, right_answer(&e.db, &item).await)
            .await
            .unwrap();
        match out.next {
            Next::Item(v) => {
                item = *v;
                reviewed.push(item.item_id);
            }
            Next::End(end) => {
                assert_eq!(end.reason, "pool_exhausted");
                break;
            }
        }
    }
    reviewed.sort();
    answered.sort();
    assert_eq!(
        reviewed, answered,
        "exactly the due items, from both subjects"
    );
    // A review session needs a year of study.
    let newcomer = student();
    assert!(matches!(
        e.start(
            &newcomer,
            "custom",
            Style::Review,
            SessionRequest::default()
        )
        .await,
        Err(TrainingError::Invalid(_))
    ));
}

#[tokio::test]
async fn abandoned_sessions_expire_and_refuse_answers() {
    let e = env().await;
    let a = e.learner().await;
    let cardio = e.subject("cardio").await;
    let old = e
        .start(&a, "custom", Style::Tutor, request(cardio))
        .await
        .unwrap();
    e.clock.advance(Duration::days(6));
    let recent = e
        .start(&a, "custom", Style::Tutor, request(cardio))
        .await
        .unwrap();
    e.clock.advance(Duration::days(2));
    assert_eq!(e.training.expire_abandoned().await.unwrap(), 1);
    let o = e.training.session(&a, old.id).await.unwrap();
    assert_eq!(
        (o.status.as_str(), o.end.map(|x| x.reason)),
        ("expired", Some("expired".to_string()))
    );
    assert_eq!(
        e.training.session(&a, recent.id).await.unwrap().status,
        "active"
    );
    let item = old.current.unwrap();
    assert!(matches!(
        e.training
            .answer(&a, old.id, right_answer(&e.db, &item).await)
            .await,
        Err(TrainingError::SessionClosed)
    ));
    let list = e.training.sessions(&a, None, 10).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].id, recent.id);
}

#[tokio::test]
async fn modes_are_data_that_content_admins_edit() {
    let e = env().await;
    let modes = e.training.modes().await.unwrap();
    assert_eq!(modes.len(), 3);
    assert_eq!(modes[2].definers, Definers::INTELLIGENT);
    let learner = e.learner().await;
    let input = ModeInput {
        names: serde_json::json!({"fr": "Révision express", "en": "Quick review"}),
        definers: Definers {
            time_limit: Definer::ItemDefault,
            ..Definers::GUIDED
        },
        sort_order: 5,
    };
    assert!(matches!(
        e.training
            .set_mode(&learner, "express", input.clone())
            .await,
        Err(TrainingError::Forbidden)
    ));
    let admin = Actor {
        id: Uuid::now_v7(),
        roles: vec![Role::Admin],
        scopes: vec![AdminScope::Content],
        mfa_enrolled: true,
    };
    let m = e
        .training
        .set_mode(&admin, "express", input.clone())
        .await
        .unwrap();
    assert_eq!(m.definers.time_limit, Definer::ItemDefault);
    assert_eq!(e.training.modes().await.unwrap().len(), 4);
    let bad = ModeInput {
        definers: Definers {
            kinds: Definer::ItemDefault,
            ..Definers::GUIDED
        },
        ..input
    };
    assert!(matches!(
        e.training.set_mode(&admin, "express", bad).await,
        Err(TrainingError::Invalid(_))
    ));
    // The engine-defined mode picks its own count and types.
    let cardio = e.subject("cardio").await;
    let s = e
        .start(
            &learner,
            "intelligent",
            Style::Tutor,
            SessionRequest {
                item_count: Some(100),
                ..request(cardio)
            },
        )
        .await
        .unwrap();
    assert_eq!(s.params.item_count, 9);
    assert_eq!(s.params.kinds, vec![ItemKind::Qcm]);
    assert_eq!(s.current.unwrap().kind, "qcm");
}

#[tokio::test]
async fn the_account_export_and_erasure_cover_the_learning_tables() {
    let e = env().await;
    let a = e.learner().await;
    let cardio = e.subject("cardio").await;
    let s = e
        .start(&a, "custom", Style::Tutor, request(cardio))
        .await
        .unwrap();
    let item = s.current.clone().unwrap();
    e.training
        .note(&a, s.id, item.served_id, "note perso")
        .await
        .unwrap();
    e.training
        .answer(&a, s.id, right_answer(&e.db, &item).await)
        .await
        .unwrap();
    let export = myqcm_services::training::privacy::export(&*e.db, a.id)
        .await
        .unwrap();
    assert_eq!(export["profile"]["year_of_study"], 3);
    assert_eq!(export["training_sessions"].as_array().unwrap().len(), 1);
    assert_eq!(export["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(export["served_items"][0]["note"], "note perso");
    assert_eq!(export["ability"].as_array().unwrap().len(), 1);
    myqcm_services::training::privacy::erase(&*e.db, a.id)
        .await
        .unwrap();
    let after = myqcm_services::training::privacy::export(&*e.db, a.id)
        .await
        .unwrap();
    assert!(after["profile"].is_null());
    assert!(after["ability"].as_array().unwrap().is_empty());
    assert!(after["memory"].as_array().unwrap().is_empty());
    assert!(after["served_items"][0]["note"].is_null());
}
