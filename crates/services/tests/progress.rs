//! Progress reads against a real database (SQLite by default, PostgreSQL with
//! `MYQCM_TEST_DATABASE_URL`) on the demo bank: answers given through the training use cases,
//! then totals, XP (correct answers only), level, rank, streak in Africa/Algiers days, reviews
//! due and forecast, mastery bands, trend and the predicted exam score are checked against
//! values computed independently here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use myqcm_db::catalogue as catalogue_repo;
use myqcm_domain::FixedClock;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::catalogue::{ItemContent, ItemKind};
use myqcm_domain::permissions::Role;
use myqcm_domain::training::{SessionRequest, Style};
use myqcm_services::import;
use myqcm_services::training::Training;
use myqcm_services::training::progress::{
    Progress, ProgressConfig, ProgressError, mastery_sd, xp_for,
};
use myqcm_services::training::views::{AnswerInput, NewSessionInput, Next, ProfileInput};
use myqcm_testkit::{TestDb, epoch, fixed_clock, test_cache, test_db};
use uuid::Uuid;

struct Env {
    db: TestDb,
    clock: FixedClock,
    training: Training,
    progress: Progress,
}

async fn env() -> Env {
    let db = test_db().await.unwrap();
    let r = import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    assert!(r.committed, "{:?}", r.errors);
    let clock = fixed_clock();
    let training = Training::open(db.conn.clone(), Arc::new(clock.clone())).unwrap();
    let progress = Progress::new(
        db.conn.clone(),
        test_cache().await.unwrap(),
        Arc::new(clock.clone()),
        ProgressConfig {
            rank_ttl: StdDuration::ZERO,
        },
    );
    Env {
        db,
        clock,
        training,
        progress,
    }
}

fn student() -> Actor {
    Actor {
        id: Uuid::now_v7(),
        roles: vec![Role::Student],
        scopes: vec![],
        mfa_enrolled: false,
    }
}

impl Env {
    async fn learner(&self) -> Actor {
        let a = student();
        self.training
            .set_profile(
                &a,
                ProfileInput {
                    year_of_study: 3,
                    exam_date: Some("2026-01-15".into()),
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

    /// Runs a tutor session of `pattern.len()` QCS/QCM items in `subject`, answering right
    /// where `pattern` is true; returns the XP the right answers should earn and the items.
    async fn practise(&self, who: &Actor, subject: Uuid, pattern: &[bool]) -> (i64, Vec<Uuid>) {
        let s = self
            .training
            .create_session(
                who,
                NewSessionInput {
                    mode: Some("custom".into()),
                    style: Style::Tutor,
                    request: SessionRequest {
                        subject: Some(subject),
                        kinds: vec![ItemKind::Qcs, ItemKind::Qcm],
                        item_count: Some(u32::try_from(pattern.len()).unwrap()),
                        ..SessionRequest::default()
                    },
                },
            )
            .await
            .unwrap();
        let mut item = s.current.unwrap();
        let mut xp = 0;
        let mut items = Vec::new();
        for (k, right) in pattern.iter().enumerate() {
            let rev = catalogue_repo::revision(&*self.db, item.revision_id)
                .await
                .unwrap()
                .unwrap();
            let c: ItemContent = serde_json::from_str(&rev.content).unwrap();
            let correct: Vec<usize> = (0..c.options.len())
                .filter(|i| c.options[*i].correct)
                .collect();
            let options = if *right {
                xp += xp_for(c.kind, c.difficulty);
                correct
            } else {
                vec![
                    (0..c.options.len())
                        .find(|i| !c.options[*i].correct)
                        .unwrap(),
                ]
            };
            items.push(item.item_id);
            let out = self
                .training
                .answer(
                    who,
                    s.id,
                    AnswerInput {
                        served_id: item.served_id,
                        options: Some(options),
                        text: None,
                    },
                )
                .await
                .unwrap();
            assert_eq!(out.grade.unwrap().correct, Some(*right));
            match out.next {
                Next::Item(v) => item = *v,
                Next::End(_) => assert_eq!(k + 1, pattern.len(), "ended early"),
            }
        }
        (xp, items)
    }
}

#[tokio::test]
async fn a_newcomer_has_an_empty_but_complete_overview() {
    let e = env().await;
    let a = e.learner().await;
    let p = e.progress.overview(&a).await.unwrap();
    assert_eq!(p.today, "2026-01-05");
    assert_eq!(p.time_zone, "Africa/Algiers");
    assert!(p.profile_complete);
    assert_eq!((p.totals.graded, p.totals.correct), (0, 0));
    assert_eq!(p.totals.percent_correct, None);
    assert_eq!(
        (p.xp.total, p.xp.level, p.xp.next_level_at),
        (0, 1, Some(100))
    );
    assert_eq!((p.streak.current, p.streak.longest), (0, 0));
    assert_eq!(p.reviews.due_now, 0);
    assert_eq!(p.reviews.forecast.len(), 7);
    assert_eq!(p.reviews.forecast[0].date, "2026-01-05");
    assert_eq!(p.reviews.forecast[6].date, "2026-01-11");
    assert_eq!(p.trend.len(), 30);
    assert_eq!(p.trend[29].date, "2026-01-05");
    assert!(p.weakest_kcs.is_empty());
    let codes: Vec<&str> = p.subjects.iter().map(|s| s.code.as_str()).collect();
    assert_eq!(codes, ["cardio", "nephro", "pneumo"]);
    let pred = p.prediction.unwrap();
    assert_eq!(pred.days_to_exam, Some(10));
    assert!((pred.coverage - 1.0).abs() < 1e-9, "{pred:?}");
    assert!(pred.score.low < pred.score.value && pred.score.value < pred.score.high);
    // Prior ability N(0, 1): wide interval.
    assert!(pred.score.high - pred.score.low > 0.3, "{pred:?}");
    // A KC never met shows p_init with the widest band.
    let d = e
        .progress
        .subject(&a, e.subject("cardio").await)
        .await
        .unwrap();
    assert!(!d.kcs.is_empty());
    assert!(d.kcs.iter().all(|k| k.evidence == 0));
    assert!((d.kcs[0].plus_minus - mastery_sd(d.kcs[0].mastery, 0)).abs() < 1e-12);
}

#[tokio::test]
async fn answers_feed_totals_xp_trend_mastery_and_the_prediction() {
    let e = env().await;
    let a = e.learner().await;
    let cardio = e.subject("cardio").await;
    let before = e.progress.overview(&a).await.unwrap();
    let pattern = [true, true, false, true, true, true, false, true];
    let (xp, items) = e.practise(&a, cardio, &pattern).await;
    let p = e.progress.overview(&a).await.unwrap();
    assert_eq!((p.totals.graded, p.totals.correct), (8, 6));
    assert_eq!(p.totals.percent_correct, Some(0.75));
    assert_eq!(p.xp.total, xp, "XP from the correct answers only");
    assert!(xp > 0);
    let today = p.trend.last().unwrap();
    assert_eq!((today.graded, today.correct), (8, 6));
    assert!(p.trend[..29].iter().all(|d| d.graded == 0));
    assert_eq!((p.streak.current, p.streak.longest), (1, 1));
    assert!(p.streak.active_today);
    let c = p.subjects.iter().find(|s| s.code == "cardio").unwrap();
    assert_eq!((c.graded, c.correct, c.answers), (8, 6, 8));
    assert!(c.theta > 0.0 && c.se < 1.0, "{c:?}");
    let c0 = before.subjects.iter().find(|s| s.code == "cardio").unwrap();
    let (e0, e1) = (c0.expected_score.unwrap(), c.expected_score.unwrap());
    assert!(e1.value > e0.value, "{e0:?} -> {e1:?}");
    assert!(
        e1.high - e1.low < e0.high - e0.low,
        "narrower with evidence"
    );
    let other = p.subjects.iter().find(|s| s.code == "nephro").unwrap();
    assert_eq!((other.graded, other.answers), (0, 0));
    let (p0, p1) = (
        before.prediction.unwrap().score,
        p.prediction.clone().unwrap().score,
    );
    assert!(p1.value > p0.value, "{p0:?} -> {p1:?}");
    // Weakest KCs: met ones only, lowest first, each with its evidence and band.
    assert!(!p.weakest_kcs.is_empty() && p.weakest_kcs.len() <= 5);
    for w in p.weakest_kcs.windows(2) {
        assert!(w[0].mastery <= w[1].mastery);
    }
    for k in &p.weakest_kcs {
        assert!(k.evidence >= 1 && k.subject_id == cardio);
        assert!((k.plus_minus - mastery_sd(k.mastery, k.evidence)).abs() < 1e-12);
        assert!(k.band.low <= k.mastery && k.mastery <= k.band.high);
    }
    let d = e.progress.subject(&a, cardio).await.unwrap();
    let evidence: u32 = d.kcs.iter().map(|k| k.evidence).sum();
    let tags = myqcm_db::training::kc_tags(&*e.db, &items).await.unwrap();
    assert_eq!(
        evidence as usize,
        tags.len(),
        "one evidence per tagged answer"
    );
    assert_eq!(d.trend.last().unwrap().graded, 8);
    let nephro = e.subject("nephro").await;
    let n = e.progress.subject(&a, nephro).await.unwrap();
    assert_eq!(n.trend.last().unwrap().graded, 0);
}

#[tokio::test]
async fn the_streak_counts_algiers_days_and_breaks_after_a_missed_day() {
    let e = env().await;
    let a = e.learner().await;
    let cardio = e.subject("cardio").await;
    e.practise(&a, cardio, &[true]).await;
    // 23:30 UTC on the same UTC day is already the next day in Algiers (00:30).
    e.clock
        .set(epoch() + Duration::hours(15) + Duration::minutes(30));
    e.practise(&a, cardio, &[true]).await;
    let p = e.progress.overview(&a).await.unwrap();
    assert_eq!(p.today, "2026-01-06");
    assert_eq!((p.streak.current, p.streak.longest), (2, 2));
    // The next day without practice: still alive (yesterday counts), not active today.
    e.clock.advance(Duration::days(1));
    let p = e.progress.overview(&a).await.unwrap();
    assert_eq!((p.streak.current, p.streak.active_today), (2, false));
    // One more day missed: broken, the longest run stays.
    e.clock.advance(Duration::days(1));
    let p = e.progress.overview(&a).await.unwrap();
    assert_eq!((p.streak.current, p.streak.longest), (0, 2));
    assert_eq!(p.streak.last_day.as_deref(), Some("2026-01-06"));
}

#[tokio::test]
async fn reviews_fall_due_and_the_forecast_adds_up() {
    let e = env().await;
    let a = e.learner().await;
    let cardio = e.subject("cardio").await;
    let (_, items) = e
        .practise(&a, cardio, &[true, false, true, true, false])
        .await;
    let p = e.progress.overview(&a).await.unwrap();
    let mems = myqcm_db::training::memories_in(&*e.db, a.id, &[cardio])
        .await
        .unwrap();
    assert_eq!(mems.len(), items.len());
    let now = epoch().timestamp_millis();
    let due_now = mems.iter().filter(|m| m.due_at <= now).count() as i64;
    assert_eq!(p.reviews.due_now, due_now);
    let within: i64 = p.reviews.forecast.iter().map(|d| d.due).sum();
    // Every review due before the end of the 7th local day is in the forecast.
    let end_of_window = (epoch().timestamp_millis() + 3_600_000) / 86_400_000 * 86_400_000
        + 7 * 86_400_000
        - 3_600_000;
    let expected = mems.iter().filter(|m| m.due_at < end_of_window).count() as i64;
    assert_eq!(within, expected);
    assert!(expected > 0, "missed items come back within a week");
    // Much later everything is due, and lands on the first forecast day.
    e.clock.advance(Duration::days(400));
    let later = e.progress.overview(&a).await.unwrap();
    assert_eq!(later.reviews.due_now, items.len() as i64);
    assert_eq!(later.reviews.forecast[0].due, items.len() as i64);
}

#[tokio::test]
async fn ranks_compare_lifetime_xp_between_learners() {
    let e = env().await;
    let cardio = e.subject("cardio").await;
    let strong = e.learner().await;
    let weak = e.learner().await;
    let idle = e.learner().await;
    let (xs, _) = e.practise(&strong, cardio, &[true; 6]).await;
    let (xw, _) = e
        .practise(&weak, cardio, &[true, false, false, false])
        .await;
    assert!(xs > xw);
    let s = e.progress.overview(&strong).await.unwrap().xp;
    let w = e.progress.overview(&weak).await.unwrap().xp;
    let i = e.progress.overview(&idle).await.unwrap().xp;
    assert_eq!((s.total, s.rank, s.learners), (xs, 1, 2));
    assert_eq!((w.total, w.rank, w.learners), (xw, 2, 2));
    assert_eq!((i.total, i.rank, i.learners), (0, 3, 3));
    assert_eq!((s.top_percent, w.top_percent), (50, 99));
}

#[tokio::test]
async fn only_learners_read_progress_and_unknown_subjects_are_not_found() {
    let e = env().await;
    let author = Actor {
        id: Uuid::now_v7(),
        roles: vec![Role::Author],
        scopes: vec![],
        mfa_enrolled: false,
    };
    assert!(matches!(
        e.progress.overview(&author).await,
        Err(ProgressError::Forbidden)
    ));
    let a = e.learner().await;
    assert!(matches!(
        e.progress.subject(&a, Uuid::now_v7()).await,
        Err(ProgressError::NotFound)
    ));
    // Without a profile: no prediction, and only subjects answered in.
    let fresh = student();
    let p = e.progress.overview(&fresh).await.unwrap();
    assert!(!p.profile_complete && p.prediction.is_none() && p.subjects.is_empty());
}
