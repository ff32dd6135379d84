//! Learning repositories on SQLite (default) and PostgreSQL (`MYQCM_TEST_DATABASE_URL`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use myqcm_db::catalogue::{self, NewItem};
use myqcm_db::training::{
    self as repo, attempt, learner_ability, learner_kc, learner_memory, learner_profile,
    session_item, training_session,
};
use myqcm_db::{DbError, TransactionTrait};
use myqcm_testkit::{epoch, test_db};
use uuid::Uuid;

struct Bank {
    subject: Uuid,
    course: Uuid,
    other_course: Uuid,
    kc: Uuid,
    qcs: (Uuid, Uuid),
    qcm: (Uuid, Uuid),
    draft: Uuid,
}

fn content(kind: &str, n_options: usize) -> String {
    let options: Vec<_> = (0..n_options)
        .map(|k| serde_json::json!({"text": format!("o{k}"), "correct": k == 0}))
        .collect();
    serde_json::json!({
        "kind": kind, "locale": "fr", "stem": "?", "options": options,
        "difficulty": "medium", "estimated_seconds": 30
    })
    .to_string()
}

async fn bank(db: &sea_orm::DatabaseConnection) -> Bank {
    let s = catalogue::upsert_subject(db, "cardio", 3, None, "{}")
        .await
        .unwrap();
    let c1 = catalogue::upsert_course(db, "cardio-hta", s.id, "{}")
        .await
        .unwrap();
    let c2 = catalogue::upsert_course(db, "cardio-ic", s.id, "{}")
        .await
        .unwrap();
    let kc = catalogue::upsert_kc(db, "kc-hta", s.id, None, "kc", "{}", 0)
        .await
        .unwrap();
    let item = |kind: &str, n: usize, course: Uuid, status: &str| NewItem {
        kind: kind.into(),
        course_id: course,
        subject_id: s.id,
        status: status.into(),
        author_id: Uuid::now_v7(),
        locale: "fr".into(),
        translation_group_id: None,
        external_id: None,
        content_hash: Uuid::now_v7().to_string(),
        difficulty: "medium".into(),
        source_kind: Some("exam".into()),
        case: None,
        search_text: String::new(),
        content_json: content(kind, n),
        kcs: vec![(kc.id, 1.0)],
    };
    let (qcs, qcs_rev) = catalogue::insert_item(db, item("qcs", 4, c1.id, "approved"), epoch())
        .await
        .unwrap();
    let (qcm, qcm_rev) = catalogue::insert_item(db, item("qcm", 5, c2.id, "approved"), epoch())
        .await
        .unwrap();
    let (draft, _) = catalogue::insert_item(db, item("qcm", 3, c1.id, "draft"), epoch())
        .await
        .unwrap();
    Bank {
        subject: s.id,
        course: c1.id,
        other_course: c2.id,
        kc: kc.id,
        qcs: (qcs.id, qcs_rev.id),
        qcm: (qcm.id, qcm_rev.id),
        draft: draft.id,
    }
}

fn session(learner: Uuid, subject: Uuid, now: i64) -> training_session::Model {
    training_session::Model {
        id: Uuid::now_v7(),
        learner_id: learner,
        subject_id: Some(subject),
        mode: "custom".into(),
        style: "tutor".into(),
        status: "active".into(),
        end_reason: None,
        request: "{}".into(),
        params: "{}".into(),
        rules: "{}".into(),
        rule_version: "2026.1".into(),
        seed: 7,
        item_count: 10,
        served: 1,
        deadline_at: None,
        paused_at: None,
        created_at: now,
        updated_at: now,
        completed_at: None,
    }
}

fn served(s: &training_session::Model, b: &Bank, position: i32) -> session_item::Model {
    session_item::Model {
        id: Uuid::now_v7(),
        session_id: s.id,
        learner_id: s.learner_id,
        position,
        item_id: b.qcs.0,
        revision_id: b.qcs.1,
        subject_id: b.subject,
        case_id: None,
        case_step: None,
        case_size: None,
        option_order: Some("[2,0,3,1]".into()),
        reason: "most_informative".into(),
        p_correct: Some(0.6),
        p_correct_bkt: Some(0.4),
        parameter_set_id: 0,
        state: "served".into(),
        served_at: 1_000,
        closed_at: None,
        flagged: false,
        note: None,
    }
}

fn an_attempt(si: &session_item::Model, text: Option<&str>) -> attempt::Model {
    attempt::Model {
        id: Uuid::now_v7(),
        session_item_id: si.id,
        session_id: si.session_id,
        learner_id: si.learner_id,
        item_id: si.item_id,
        revision_id: si.revision_id,
        response: match text {
            Some(t) => serde_json::json!({ "text": t }).to_string(),
            None => r#"{"options":[0]}"#.into(),
        },
        ratio: Some(1.0),
        correct: Some(true),
        grader: Some("exact".into()),
        ungraded_reason: None,
        rule_version: "2026.1".into(),
        parameter_set_id: 0,
        time_spent_ms: 4_000,
        created_at: 5_000,
    }
}

#[tokio::test]
async fn modes_and_the_prior_set_are_seeded_and_parameter_sets_version() {
    let db = test_db().await.unwrap();
    let modes = repo::modes(&*db).await.unwrap();
    let codes: Vec<_> = modes.iter().map(|m| m.code.as_str()).collect();
    assert_eq!(codes, ["custom", "guided", "intelligent"]);
    let guided: serde_json::Value = serde_json::from_str(&modes[1].definers).unwrap();
    assert_eq!(guided["difficulty"], "engine");
    assert_eq!(guided["kinds"], "user");
    assert_eq!(repo::active_parameter_set(&*db).await.unwrap(), 0);

    let b = bank(&db).await;
    let set = repo::insert_parameter_set(&*db, "fit 1", "calibration", "candidate", "{}", 9)
        .await
        .unwrap();
    assert_eq!(set.id, 1);
    assert_eq!(repo::active_parameter_set(&*db).await.unwrap(), 0);
    repo::put_item_parameters(&*db, 1, &[(b.qcs.0, 1.3, 0.4, 0.22)])
        .await
        .unwrap();
    repo::put_item_parameters(&*db, 1, &[(b.qcs.0, 1.4, 0.5, 0.2)])
        .await
        .unwrap();
    repo::put_kc_parameters(&*db, 1, &[(b.kc, 0.3, 0.2, 0.15, 0.05)])
        .await
        .unwrap();
    assert!(
        repo::set_parameter_set_status(&*db, 1, "active")
            .await
            .unwrap()
    );
    assert_eq!(repo::active_parameter_set(&*db).await.unwrap(), 1);
    let rows = repo::pool_rows(&*db, b.subject, &[], 1).await.unwrap();
    let qcs = rows.iter().find(|r| r.item_id == b.qcs.0).unwrap();
    assert_eq!(
        qcs.params,
        Some((1.4, 0.5, 0.2)),
        "replaced, not duplicated"
    );
    let kcp = repo::kc_parameters(&*db, 1, &[b.kc]).await.unwrap();
    assert_eq!(kcp.len(), 1);
    assert!(
        repo::kc_parameters(&*db, 0, &[b.kc])
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn pools_hold_approved_items_with_option_counts_and_course_filters() {
    let db = test_db().await.unwrap();
    let b = bank(&db).await;
    let rows = repo::pool_rows(&*db, b.subject, &[], 0).await.unwrap();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.item_id).collect();
    assert!(ids.contains(&b.qcs.0) && ids.contains(&b.qcm.0));
    assert!(!ids.contains(&b.draft), "drafts never reach a pool");
    let qcs = rows.iter().find(|r| r.item_id == b.qcs.0).unwrap();
    assert_eq!((qcs.kind.as_str(), qcs.n_options), ("qcs", 4));
    assert_eq!(qcs.revision_id, b.qcs.1);
    assert_eq!(qcs.params, None, "no calibrated row: the priors apply");
    let qcm = rows.iter().find(|r| r.item_id == b.qcm.0).unwrap();
    assert_eq!(qcm.n_options, 5);
    let only = repo::pool_rows(&*db, b.subject, &[b.other_course], 0)
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].item_id, b.qcm.0);
    let by_ids = repo::pool_rows_by_ids(&*db, &[b.qcs.0, b.draft], 0)
        .await
        .unwrap();
    assert_eq!(by_ids.len(), 1);
    let tags = repo::subject_kc_tags(&*db, b.subject).await.unwrap();
    assert_eq!(tags.len(), 2);
    assert!(tags.iter().all(|t| t.1 == b.kc));
    assert_eq!(repo::kc_tags(&*db, &[b.draft]).await.unwrap().len(), 1);
    let _ = b.course;
}

#[tokio::test]
async fn sessions_belong_to_their_learner_and_an_item_is_closed_once() {
    let db = test_db().await.unwrap();
    let b = bank(&db).await;
    let learner = Uuid::now_v7();
    let s = repo::insert_session(&*db, session(learner, b.subject, 100))
        .await
        .unwrap();
    assert!(
        repo::session_of(&*db, s.id, Uuid::now_v7(), false)
            .await
            .unwrap()
            .is_none(),
        "another learner's session is absent"
    );
    assert!(
        repo::session_of(&*db, s.id, learner, true)
            .await
            .unwrap()
            .is_some()
    );
    let si = repo::insert_session_item(&*db, served(&s, &b, 0))
        .await
        .unwrap();
    assert!(matches!(
        repo::insert_session_item(&*db, served(&s, &b, 0)).await,
        Err(DbError::Conflict("session_item"))
    ));
    assert_eq!(
        repo::current_item(&*db, s.id).await.unwrap().map(|x| x.id),
        Some(si.id)
    );
    repo::shift_open_item(&*db, s.id, 500).await.unwrap();
    let shifted = repo::session_item(&*db, s.id, si.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shifted.served_at, 1_500);
    assert!(
        repo::close_item(&*db, si.id, "answered", 2_000)
            .await
            .unwrap()
    );
    assert!(
        !repo::close_item(&*db, si.id, "skipped", 2_001)
            .await
            .unwrap()
    );
    assert!(repo::current_item(&*db, s.id).await.unwrap().is_none());
    repo::insert_attempt(&*db, an_attempt(&si, None))
        .await
        .unwrap();
    assert!(matches!(
        repo::insert_attempt(&*db, an_attempt(&si, None)).await,
        Err(DbError::Conflict("attempt"))
    ));
    assert_eq!(
        repo::attempt_for(&*db, si.id).await.unwrap().unwrap().ratio,
        Some(1.0)
    );
    assert!(repo::set_flag(&*db, s.id, si.id, true).await.unwrap());
    assert!(
        !repo::set_flag(&*db, Uuid::now_v7(), si.id, true)
            .await
            .unwrap(),
        "flags only through the item's own session"
    );
    assert!(
        repo::set_note(&*db, s.id, si.id, Some("revoir la MAPA".into()))
            .await
            .unwrap()
    );
    assert_eq!(
        repo::flagged_items(&*db, learner).await.unwrap(),
        vec![b.qcs.0]
    );
    let hist = repo::attempt_history(&*db, learner).await.unwrap();
    assert_eq!(hist, vec![(b.qcs.0, Some(true), 5_000)]);
    assert_eq!(
        repo::attempts_of_session(&*db, s.id).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn only_one_of_twenty_concurrent_closes_wins() {
    let db = test_db().await.unwrap();
    let b = bank(&db).await;
    let s = repo::insert_session(&*db, session(Uuid::now_v7(), b.subject, 100))
        .await
        .unwrap();
    let si = repo::insert_session_item(&*db, served(&s, &b, 0))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for k in 0..20 {
        let conn = db.conn.clone();
        let si = si.clone();
        tasks.push(tokio::spawn(async move {
            let txn = catalogue::begin_write(&conn).await.unwrap();
            let won = repo::close_item(&txn, si.id, "answered", 2_000 + k)
                .await
                .unwrap();
            if won {
                repo::insert_attempt(&txn, an_attempt(&si, None))
                    .await
                    .unwrap();
            }
            txn.commit().await.unwrap();
            won
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
    assert_eq!(
        repo::attempts_of_session(&*db, s.id).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn learner_state_rows_upsert_and_due_reviews_come_oldest_first() {
    let db = test_db().await.unwrap();
    let b = bank(&db).await;
    let l = Uuid::now_v7();
    for (theta, answers) in [(0.2, 1), (0.5, 2)] {
        repo::put_ability(
            &*db,
            learner_ability::Model {
                learner_id: l,
                subject_id: b.subject,
                theta,
                se: 0.9,
                answers,
                updated_at: 1,
            },
        )
        .await
        .unwrap();
    }
    let a = repo::ability(&*db, l, b.subject, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.theta, a.answers), (0.5, 2));
    assert_eq!(repo::abilities(&*db, l, &[], false).await.unwrap().len(), 1);
    let kc = |mastery| learner_kc::Model {
        learner_id: l,
        kc_id: b.kc,
        mastery,
        evidence: 1,
        updated_at: 1,
    };
    repo::put_kc_states(&*db, vec![kc(0.3)]).await.unwrap();
    repo::put_kc_states(&*db, vec![kc(0.6)]).await.unwrap();
    let ks = repo::kc_states(&*db, l, &[b.kc], true).await.unwrap();
    assert_eq!(ks.len(), 1);
    assert_eq!(ks[0].mastery, 0.6);
    let mem = |item, due_at| learner_memory::Model {
        learner_id: l,
        item_id: item,
        subject_id: b.subject,
        stability: 2.0,
        difficulty: 5.0,
        reviews: 1,
        lapses: 0,
        last_review_at: 0,
        due_at,
    };
    repo::put_memory(&*db, mem(b.qcs.0, 500)).await.unwrap();
    repo::put_memory(&*db, mem(b.qcm.0, 100)).await.unwrap();
    repo::put_memory(&*db, mem(b.qcs.0, 50)).await.unwrap();
    let due = repo::due_memories(&*db, l, 120, 10).await.unwrap();
    let ids: Vec<Uuid> = due.iter().map(|m| m.item_id).collect();
    assert_eq!(ids, vec![b.qcs.0, b.qcm.0]);
    assert!(
        repo::due_memories(&*db, l, 10, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        repo::memories_in(&*db, l, &[b.subject])
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        repo::memory(&*db, l, b.qcm.0, true)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn idle_open_sessions_expire_and_others_stay() {
    let db = test_db().await.unwrap();
    let b = bank(&db).await;
    let l = Uuid::now_v7();
    let old = repo::insert_session(&*db, session(l, b.subject, 100))
        .await
        .unwrap();
    let mut done = session(l, b.subject, 100);
    done.status = "completed".into();
    let done = repo::insert_session(&*db, done).await.unwrap();
    let fresh = repo::insert_session(&*db, session(l, b.subject, 10_000))
        .await
        .unwrap();
    assert_eq!(repo::expire_idle(&*db, 5_000, 20_000).await.unwrap(), 1);
    let get = |id| {
        let db = db.conn.clone();
        async move { repo::session_of(&db, id, l, false).await.unwrap().unwrap() }
    };
    let o = get(old.id).await;
    assert_eq!(
        (o.status.as_str(), o.end_reason.as_deref()),
        ("expired", Some("expired"))
    );
    assert_eq!(get(done.id).await.status, "completed");
    assert_eq!(get(fresh.id).await.status, "active");
    let listed = repo::sessions_of(&*db, l, None, 10).await.unwrap();
    assert_eq!(listed[0].id, fresh.id, "newest first");
    assert_eq!(
        repo::sessions_of(&*db, l, Some(10_000), 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn erasure_removes_personal_learning_data_and_keeps_anonymous_statistics() {
    let db = test_db().await.unwrap();
    let b = bank(&db).await;
    let l = Uuid::now_v7();
    let someone_else = Uuid::now_v7();
    for who in [l, someone_else] {
        repo::put_profile(
            &*db,
            learner_profile::Model {
                learner_id: who,
                university_id: None,
                faculty_id: None,
                year_of_study: Some(3),
                exam_date: Some("2027-06-01".into()),
                daily_minutes: Some(45),
                mode: "guided".into(),
                created_at: 1,
                updated_at: 1,
            },
        )
        .await
        .unwrap();
    }
    let s = repo::insert_session(&*db, session(l, b.subject, 100))
        .await
        .unwrap();
    let si = repo::insert_session_item(&*db, served(&s, &b, 0))
        .await
        .unwrap();
    repo::set_note(&*db, s.id, si.id, Some("personal".into()))
        .await
        .unwrap();
    repo::set_flag(&*db, s.id, si.id, true).await.unwrap();
    repo::insert_attempt(&*db, an_attempt(&si, Some("mon nom est Karim")))
        .await
        .unwrap();
    repo::put_ability(
        &*db,
        learner_ability::Model {
            learner_id: l,
            subject_id: b.subject,
            theta: 1.0,
            se: 0.5,
            answers: 3,
            updated_at: 1,
        },
    )
    .await
    .unwrap();
    let before = repo::learner_data(&*db, l).await.unwrap();
    assert!(before.profile.is_some());
    assert_eq!((before.sessions.len(), before.items.len()), (1, 1));
    assert_eq!((before.attempts.len(), before.abilities.len()), (1, 1));

    let txn = db.begin().await.unwrap();
    repo::erase_learner(&txn, l).await.unwrap();
    txn.commit().await.unwrap();
    let after = repo::learner_data(&*db, l).await.unwrap();
    assert!(after.profile.is_none() && after.abilities.is_empty());
    assert_eq!(after.items[0].note, None);
    assert!(!after.items[0].flagged);
    assert_eq!(
        after.attempts.len(),
        1,
        "graded attempts stay as statistics"
    );
    assert!(!after.attempts[0].response.contains("Karim"));
    assert_eq!(after.attempts[0].ratio, Some(1.0));
    assert!(
        repo::profile(&*db, someone_else).await.unwrap().is_some(),
        "other learners untouched"
    );
}

#[tokio::test]
async fn graded_attempts_stream_in_id_pages_and_parameters_copy_into_a_candidate() {
    use myqcm_db::training::calibration as cal;
    let db = test_db().await.unwrap();
    let b = bank(&db).await;
    assert_eq!(cal::count_graded_attempts(&*db).await.unwrap(), 0);
    assert!(
        cal::graded_attempts_page(&*db, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // 7 answers: one per served item; the fourth is ungraded (feeds no model).
    let mut graded = Vec::new();
    for k in 0..7 {
        let s = session(Uuid::now_v7(), b.subject, 1_000);
        repo::insert_session(&*db, s.clone()).await.unwrap();
        let mut si = served(&s, &b, 1);
        if k % 2 == 1 {
            (si.item_id, si.revision_id) = b.qcm;
        }
        repo::insert_session_item(&*db, si.clone()).await.unwrap();
        let mut a = an_attempt(&si, None);
        a.created_at = 10_000 + k;
        a.correct = Some(k % 3 == 0);
        a.ratio = Some(if k % 3 == 0 { 1.0 } else { 0.2 });
        if k == 3 {
            (a.correct, a.ratio, a.grader) = (None, None, None);
        } else {
            graded.push(a.id);
        }
        repo::insert_attempt(&*db, a).await.unwrap();
    }
    assert_eq!(cal::count_graded_attempts(&*db).await.unwrap(), 6);
    let mut read = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = cal::graded_attempts_page(&*db, after, 4).await.unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 4);
        after = Some(last.id);
        pages += 1;
        read.extend(page);
    }
    assert_eq!(pages, 2);
    let ids: Vec<Uuid> = read.iter().map(|a| a.id).collect();
    graded.sort();
    assert_eq!(ids, graded, "every graded attempt once, in id order");
    assert!(read.iter().all(|a| a.learner_id != Uuid::nil()));
    let first = read.iter().find(|a| a.created_at == 10_000).unwrap();
    assert!(first.correct && (first.ratio - 1.0).abs() < 1e-12);
    assert_eq!(first.item_id, b.qcs.0);

    let items = cal::calibration_items(&*db, &[b.qcs.0, b.qcm.0, Uuid::now_v7()])
        .await
        .unwrap();
    assert_eq!(items.len(), 2);
    let qcs = items.iter().find(|i| i.id == b.qcs.0).unwrap();
    assert_eq!(
        (qcs.kind.as_str(), qcs.difficulty.as_str()),
        ("qcs", "medium")
    );
    assert!(qcs.content.contains("\"options\""));

    // A candidate starts as a copy of the set in use, then gets its own rows.
    let active = repo::insert_parameter_set(&*db, "fit 1", "calibrated", "active", "", 1)
        .await
        .unwrap();
    repo::put_item_parameters(&*db, active.id, &[(b.qcs.0, 1.1, 0.3, 0.25)])
        .await
        .unwrap();
    repo::put_kc_parameters(&*db, active.id, &[(b.kc, 0.3, 0.2, 0.2, 0.1)])
        .await
        .unwrap();
    let cand = repo::insert_parameter_set(&*db, "fit 2", "calibrated", "candidate", "", 2)
        .await
        .unwrap();
    cal::copy_parameters(&*db, active.id, cand.id)
        .await
        .unwrap();
    assert_eq!(cal::parameter_counts(&*db, cand.id).await.unwrap(), (1, 1));
    repo::put_item_parameters(&*db, cand.id, &[(b.qcs.0, 0.9, 1.4, 0.2)])
        .await
        .unwrap();
    assert_eq!(
        cal::item_parameters(&*db, cand.id, &[b.qcs.0, b.qcm.0])
            .await
            .unwrap(),
        vec![(b.qcs.0, 0.9, 1.4, 0.2)]
    );
    assert_eq!(
        cal::item_parameters(&*db, active.id, &[b.qcs.0])
            .await
            .unwrap(),
        vec![(b.qcs.0, 1.1, 0.3, 0.25)],
        "the set in use is untouched"
    );
    assert!(
        cal::set_parameter_set_notes(&*db, cand.id, r#"{"attempts":6}"#)
            .await
            .unwrap()
    );
    let sets = repo::parameter_sets(&*db).await.unwrap();
    assert_eq!(sets[0].notes, r#"{"attempts":6}"#);
    assert_eq!(repo::active_parameter_set(&*db).await.unwrap(), active.id);
}

#[tokio::test]
async fn an_answer_batch_writes_everything_once_and_a_second_close_keeps_nothing() {
    let db = test_db().await.unwrap();
    let b = bank(&db).await;
    let learner = Uuid::now_v7();
    let s = repo::insert_session(&*db, session(learner, b.subject, 100))
        .await
        .unwrap();
    let si = repo::insert_session_item(&*db, served(&s, &b, 0))
        .await
        .unwrap();
    // One read gives the session, its items and the set in use; another learner gets nothing.
    let rows = repo::session_with_items(&*db, s.id, learner, true)
        .await
        .unwrap()
        .unwrap();
    let (read, items) = (rows.session, rows.items);
    assert_eq!(read.id, s.id);
    assert_eq!(items.iter().map(|i| i.id).collect::<Vec<_>>(), vec![si.id]);
    assert_eq!(
        rows.active_set,
        repo::active_parameter_set(&*db).await.unwrap()
    );
    assert!(
        repo::session_with_items(&*db, s.id, Uuid::now_v7(), false)
            .await
            .unwrap()
            .is_none()
    );
    let empty = repo::learner_state(&*db, learner, Some(b.qcs.0))
        .await
        .unwrap();
    assert!(empty.abilities.is_empty() && empty.kcs.is_empty() && empty.memory.is_none());

    let state = |theta: f64, evidence: i32, reviews: i32| {
        (
            learner_ability::Model {
                learner_id: learner,
                subject_id: b.subject,
                theta,
                se: 0.9,
                answers: evidence,
                updated_at: 2_000,
            },
            vec![learner_kc::Model {
                learner_id: learner,
                kc_id: b.kc,
                mastery: 0.4,
                evidence,
                updated_at: 2_000,
            }],
            learner_memory::Model {
                learner_id: learner,
                item_id: b.qcs.0,
                subject_id: b.subject,
                stability: 2.5,
                difficulty: 5.0,
                reviews,
                lapses: 0,
                last_review_at: 2_000,
                due_at: 90_000,
            },
        )
    };
    let batch_for = |session_row: &training_session::Model, theta: f64| {
        let mut batch = myqcm_db::WriteBatch::new(db.get_database_backend());
        repo::queue_close_item(&mut batch, si.id, "answered", 2_000);
        repo::queue_attempt(&mut batch, an_attempt(&si, None));
        let (a, k, m) = state(theta, 1, 1);
        repo::queue_learner_state(&mut batch, a, k, m);
        repo::queue_session_item(&mut batch, served(session_row, &b, 1));
        let mut update: training_session::ActiveModel = session_row.clone().into();
        update.served = sea_orm::ActiveValue::Set(2);
        repo::queue_session_update(&mut batch, update).unwrap();
        batch
    };

    let txn = db.begin().await.unwrap();
    assert!(batch_for(&read, 0.3).run(&txn).await.unwrap());
    txn.commit().await.unwrap();
    let rows = repo::session_with_items(&*db, s.id, learner, false)
        .await
        .unwrap()
        .unwrap();
    let (after, items) = (rows.session, rows.items);
    assert_eq!(after.served, 2);
    assert_eq!(
        items.iter().map(|i| i.state.as_str()).collect::<Vec<_>>(),
        vec!["answered", "served"]
    );
    assert!(repo::attempt_for(&*db, si.id).await.unwrap().is_some());
    let st = repo::learner_state(&*db, learner, Some(b.qcs.0))
        .await
        .unwrap();
    assert_eq!(st.abilities.len(), 1);
    assert!((st.abilities[0].theta - 0.3).abs() < 1e-12);
    assert_eq!(st.kcs.len(), 1);
    assert_eq!(st.kcs[0].evidence, 1);
    let memory = st.memory.unwrap();
    assert_eq!((memory.reviews, memory.due_at), (1, 90_000));
    assert_eq!(memory.subject_id, b.subject);
    assert!(
        repo::learner_state(&*db, learner, None)
            .await
            .unwrap()
            .memory
            .is_none()
    );

    // The same answer again: the gate closes nothing, so the caller keeps nothing.
    let txn = db.begin().await.unwrap();
    assert!(!batch_for(&read, 2.0).run(&txn).await.unwrap());
    drop(txn);
    let st = repo::learner_state(&*db, learner, None).await.unwrap();
    assert!(
        (st.abilities[0].theta - 0.3).abs() < 1e-12,
        "the refused batch changed nothing"
    );
    assert_eq!(
        repo::attempts_of_session(&*db, s.id).await.unwrap().len(),
        1
    );

    // A set published meanwhile shows in the next read (a pool built before it is stale).
    let published = repo::insert_parameter_set(&*db, "fit 1", "calibrated", "active", "", 3)
        .await
        .unwrap();
    assert_ne!(rows.active_set, published.id);
    let again = repo::session_with_items(&*db, s.id, learner, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.active_set, published.id);
}
