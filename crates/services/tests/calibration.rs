//! Calibration from the database (SQLite by default, PostgreSQL with
//! `MYQCM_TEST_DATABASE_URL`): a seeded cohort answers the demo bank through the training use
//! cases, then a run writes a candidate set whose difficulties move the right way — up for the
//! item groups everyone fails, down for those everyone passes — while the set in use stays.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use myqcm_db::catalogue as catalogue_repo;
use myqcm_db::training::{self as training_repo, calibration as calib_repo};
use myqcm_domain::catalogue::{Difficulty, ItemContent, ItemKind};
use myqcm_domain::learning::prior_item_params;
use myqcm_services::calibration::{
    Calibration, CalibrationError, CalibrationOptions, PublishOutcome,
};
use myqcm_services::import;
use myqcm_services::training::Training;
use myqcm_services::training::views::{AnswerInput, Next};
use myqcm_testkit::{epoch, fixed_clock, test_db};
use uuid::Uuid;

mod support;

/// How the cohort answers an item group: everyone wrong, everyone right, or by ability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Fail,
    Pass,
    Mixed,
}

/// The rule of a group, given in turn as groups are first met (fail, pass, mixed, mixed, …):
/// deterministic whatever ids the run draws, so both directions are always exercised.
fn rule(rules: &mut HashMap<Uuid, Rule>, group: Uuid) -> Rule {
    let next = match rules.len() % 4 {
        0 => Rule::Fail,
        1 => Rule::Pass,
        _ => Rule::Mixed,
    };
    *rules.entry(group).or_insert(next)
}

#[tokio::test]
async fn a_cohort_answering_through_training_yields_a_candidate_set() {
    let db = test_db().await.unwrap();
    let r = import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    assert!(r.committed, "{:?}", r.errors);
    let clock = fixed_clock();
    let training = Training::open(db.conn.clone(), Arc::new(clock.clone())).unwrap();
    let calibration = Calibration::new(db.conn.clone(), Arc::new(clock.clone()));
    let none = calibration
        .run(CalibrationOptions::default(), &|_, _| true)
        .await;
    assert!(matches!(none, Err(CalibrationError::NoData)), "{none:?}");

    let subject = catalogue_repo::subject_by_code(&*db, "cardio")
        .await
        .unwrap()
        .unwrap()
        .id;
    // item -> (group, kind, difficulty, option count)
    let mut seen: HashMap<Uuid, (Uuid, ItemKind, Difficulty, usize)> = HashMap::new();
    let mut rules: HashMap<Uuid, Rule> = HashMap::new();
    let mut answered = 0usize;
    for learner in 0..30u32 {
        let who = support::student();
        let s = support::start_session(&training, &who, subject).await;
        let mut item = s.current.unwrap();
        loop {
            let rev = catalogue_repo::revision(&*db, item.revision_id)
                .await
                .unwrap()
                .unwrap();
            let c: ItemContent = serde_json::from_str(&rev.content).unwrap();
            let info = calib_repo::calibration_items(&*db, &[item.item_id])
                .await
                .unwrap()
                .remove(0);
            seen.insert(
                item.item_id,
                (
                    info.translation_group_id,
                    c.kind,
                    c.difficulty,
                    c.options.len(),
                ),
            );
            let right = match rule(&mut rules, info.translation_group_id) {
                Rule::Fail => false,
                Rule::Pass => true,
                Rule::Mixed => {
                    (learner + u32::from(info.translation_group_id.as_bytes()[14])) % 2 == 0
                }
            };
            let options: Vec<usize> = (0..c.options.len())
                .filter(|i| c.options[*i].correct == right)
                .take(if right { usize::MAX } else { 1 })
                .collect();
            let out = training
                .answer(
                    &who,
                    s.id,
                    AnswerInput {
                        served_id: item.served_id,
                        options: Some(options),
                        text: None,
                    },
                )
                .await
                .unwrap();
            assert_eq!(out.grade.unwrap().correct, Some(right));
            answered += 1;
            match out.next {
                Next::Item(v) => item = *v,
                Next::End(_) => break,
            }
        }
    }

    let fractions = Arc::new(Mutex::new(Vec::new()));
    let sink = fractions.clone();
    let report = calibration
        .run(
            CalibrationOptions {
                min_responses: 5,
                min_kc_observations: 20,
                page_size: 37, // several pages
            },
            &move |f, _| {
                sink.lock().unwrap().push(f);
                true
            },
        )
        .await
        .unwrap();
    assert_eq!(report.status, "candidate");
    assert_eq!(report.based_on, 0);
    assert_eq!(report.attempts, answered);
    assert_eq!(report.learners, 30);
    assert!(report.groups_fitted > 0 && report.items_fitted >= report.groups_fitted);
    assert!(report.window_from_ms <= report.window_to_ms);
    assert!(!report.fits.is_empty(), "{report:?}");
    assert!(report.kcs.fitted > 0, "{report:?}");
    let (item_rows, kc_rows) = calib_repo::parameter_counts(&*db, report.parameter_set_id)
        .await
        .unwrap();
    assert_eq!(item_rows as usize, report.items_fitted);
    assert_eq!(kc_rows as usize, report.kcs.fitted);
    let f = fractions.lock().unwrap().clone();
    assert!(f.windows(2).all(|w| w[0] <= w[1]), "{f:?}");
    assert_eq!(f.last().copied(), Some(1.0));

    // The set in use is unchanged; the candidate carries its report.
    assert_eq!(training_repo::active_parameter_set(&*db).await.unwrap(), 0);
    let sets = training_repo::parameter_sets(&*db).await.unwrap();
    let cand = sets
        .iter()
        .find(|s| s.id == report.parameter_set_id)
        .unwrap();
    assert_eq!(cand.status, "candidate");
    let notes: serde_json::Value = serde_json::from_str(&cand.notes).unwrap();
    assert_eq!(notes["attempts"], answered);
    assert_eq!(notes["code_version"], env!("CARGO_PKG_VERSION"));

    let items: Vec<Uuid> = seen.keys().copied().collect();
    let fitted: HashMap<Uuid, (f64, f64, f64)> =
        calib_repo::item_parameters(&*db, report.parameter_set_id, &items)
            .await
            .unwrap()
            .into_iter()
            .map(|(i, a, b, c)| (i, (a, b, c)))
            .collect();
    let (mut up, mut down) = (0, 0);
    let mut by_group: HashMap<Uuid, (f64, f64, f64)> = HashMap::new();
    for (item, (group, kind, difficulty, n)) in &seen {
        let Some(p) = fitted.get(item) else { continue };
        // Linked translations share one estimate.
        assert_eq!(*by_group.entry(*group).or_insert(*p), *p);
        let prior = prior_item_params(*kind, *difficulty, *n);
        match rules[group] {
            Rule::Fail => {
                assert!(p.1 > prior.b(), "{item}: b {} vs prior {}", p.1, prior.b());
                up += 1;
            }
            Rule::Pass => {
                assert!(p.1 < prior.b(), "{item}: b {} vs prior {}", p.1, prior.b());
                down += 1;
            }
            Rule::Mixed => {}
        }
        if *kind == ItemKind::Qcm {
            assert!(p.2.abs() < 1e-12, "a QCM is fitted 2PL (c = 0): {p:?}");
        }
    }
    assert!(up > 0 && down > 0, "up {up} down {down}: {report:?}");

    // A run asked to stop (a cancelled job) writes nothing.
    let stopped = calibration
        .run(
            CalibrationOptions {
                min_responses: 5,
                min_kc_observations: 20,
                page_size: 37,
            },
            &|f, _| f < 0.3,
        )
        .await;
    assert!(
        matches!(stopped, Err(CalibrationError::Stopped)),
        "{stopped:?}"
    );
    assert_eq!(
        training_repo::parameter_sets(&*db).await.unwrap().len(),
        2,
        "the priors and the first candidate only"
    );

    // A second run is a new candidate, based on the same set in use.
    let again = calibration
        .run(
            CalibrationOptions {
                min_responses: 5,
                min_kc_observations: 20,
                page_size: 1000,
            },
            &|_, _| true,
        )
        .await
        .unwrap();
    assert!(again.parameter_set_id > report.parameter_set_id);
    assert_eq!(again.based_on, 0);
    assert_eq!(again.items_fitted, report.items_fitted);

    // The attempt log of `myqcm evaluate`: every graded attempt once, in id order across
    // pages, with the prediction stored when its item was served, and each item's type,
    // option count, subject and KCs.
    let log = calibration.attempt_log(37).await.unwrap();
    assert_eq!(log.attempts.len(), answered);
    assert!(log.attempts.windows(2).all(|w| w[0].id < w[1].id));
    for a in &log.attempts {
        let p = a.p_correct.expect("a served item stores its prediction");
        assert!(p > 0.0 && p < 1.0, "{p}");
        let item = &log.items[&a.item];
        let (_, kind, _, options) = seen[&a.item];
        assert_eq!(item.kind.parse::<ItemKind>().unwrap(), kind);
        assert_eq!(item.options, options);
        assert_eq!(item.subject, subject);
        let kcs = training_repo::kc_tags(&*db, &[a.item]).await.unwrap();
        assert_eq!(item.kcs.len(), kcs.len());
        assert!(!a.locale.is_empty());
    }
}

/// One learner's custom cardio session (QCS and QCM), answered to its end; returns
/// the session id.
async fn answer_session(
    db: &myqcm_testkit::TestDb,
    training: &Training,
    subject: Uuid,
    learner: u32,
) -> Uuid {
    let who = support::student();
    let s = support::start_session(training, &who, subject).await;
    let mut item = s.current.unwrap();
    loop {
        let rev = catalogue_repo::revision(&**db, item.revision_id)
            .await
            .unwrap()
            .unwrap();
        let c: ItemContent = serde_json::from_str(&rev.content).unwrap();
        let group = calib_repo::calibration_items(&**db, &[item.item_id])
            .await
            .unwrap()
            .remove(0)
            .translation_group_id;
        // One ability scale, as a unidimensional model expects: learner k answers right the
        // items whose level (easy 1, medium 2, hard 3, shifted by the group) is ≤ k % 5.
        let level = match c.difficulty {
            Difficulty::Easy => 1,
            Difficulty::Medium => 2,
            _ => 3,
        } + u32::from(group.as_bytes()[14] % 2);
        let right = learner % 5 >= level;
        let options: Vec<usize> = (0..c.options.len())
            .filter(|i| c.options[*i].correct == right)
            .take(if right { usize::MAX } else { 1 })
            .collect();
        let out = training
            .answer(
                &who,
                s.id,
                AnswerInput {
                    served_id: item.served_id,
                    options: Some(options),
                    text: None,
                },
            )
            .await
            .unwrap();
        match out.next {
            Next::Item(v) => item = *v,
            Next::End(_) => return s.id,
        }
    }
}

#[tokio::test]
async fn the_release_gate_publishes_a_better_set_and_rejects_a_shuffled_one() {
    let db = test_db().await.unwrap();
    let r = import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    assert!(r.committed, "{:?}", r.errors);
    let clock = fixed_clock();
    let training = Training::open(db.conn.clone(), Arc::new(clock.clone())).unwrap();
    let calibration = Calibration::new(db.conn.clone(), Arc::new(clock.clone()));
    let subject = catalogue_repo::subject_by_code(&*db, "cardio")
        .await
        .unwrap()
        .unwrap()
        .id;
    for learner in 0..60u32 {
        answer_session(&db, &training, subject, learner).await;
    }
    let options = CalibrationOptions {
        min_responses: 5,
        min_kc_observations: 20,
        page_size: 1000,
    };
    let good = calibration.run(options, &|_, _| true).await.unwrap();
    let bad = calibration.run(options, &|_, _| true).await.unwrap();
    let before = training_repo::active_parameter_set(&*db).await.unwrap();

    // Corrupt the second candidate: its fitted rows shuffled among the items (rotated by one),
    // with the difficulty mirrored, so easy items read hard and hard ones easy.
    let items: Vec<Uuid> = calibration
        .attempt_log(1000)
        .await
        .unwrap()
        .items
        .into_keys()
        .collect();
    let mut rows = calib_repo::item_parameters(&*db, bad.parameter_set_id, &items)
        .await
        .unwrap();
    rows.sort_by_key(|r| r.0);
    assert!(rows.len() > 2);
    let shuffled: Vec<(Uuid, f64, f64, f64)> = (0..rows.len())
        .map(|k| {
            let (_, a, b, c) = rows[(k + 1) % rows.len()];
            (rows[k].0, a, -b, c)
        })
        .collect();
    training_repo::put_item_parameters(&*db, bad.parameter_set_id, &shuffled)
        .await
        .unwrap();

    // The shuffled one is rejected with its report; the set in use does not move.
    let out = calibration.publish(bad.parameter_set_id).await.unwrap();
    let PublishOutcome::Rejected(j) = out else {
        panic!("a shuffled set was published: {out:?}")
    };
    assert!(!j.accept);
    assert!(j.log_loss_change > 0.005, "{j:?}");
    assert!(j.held_out > 0 && j.warm_up > 0, "{j:?}");
    assert_eq!(j.current.parameter_set_id, before);
    assert_eq!(
        training_repo::active_parameter_set(&*db).await.unwrap(),
        before
    );
    let sets = calibration.parameter_sets().await.unwrap();
    let rejected = sets.iter().find(|s| s.id == bad.parameter_set_id).unwrap();
    assert_eq!(rejected.status, "rejected");
    assert_eq!(rejected.verdict.as_ref().map(|v| v.0), Some(false));
    let stored = training_repo::parameter_sets(&*db)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.id == bad.parameter_set_id)
        .unwrap();
    let notes: serde_json::Value = serde_json::from_str(&stored.notes).unwrap();
    assert_eq!(notes["judgement"]["accept"], false);
    assert!(
        notes["judgement"]["candidate_scores"]["log_loss"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(
        notes["attempts"], bad.attempts,
        "the calibration record is kept"
    );

    // The fitted one is no worse than the priors: published, the priors retired.
    let out = calibration.publish(good.parameter_set_id).await.unwrap();
    let PublishOutcome::Published {
        judgement, retired, ..
    } = out
    else {
        panic!("a fitted set was rejected: {out:?}")
    };
    assert!(judgement.accept, "{judgement:?}");
    assert!(
        judgement.candidate_scores.log_loss <= judgement.current.log_loss,
        "{judgement:?}"
    );
    assert_eq!(retired, before);
    assert_eq!(
        training_repo::active_parameter_set(&*db).await.unwrap(),
        good.parameter_set_id
    );
    let sets = calibration.parameter_sets().await.unwrap();
    assert_eq!(
        sets.iter().filter(|s| s.status == "active").count(),
        1,
        "{sets:?}"
    );
    assert_eq!(
        sets.iter().find(|s| s.id == before).unwrap().status,
        "retired"
    );

    // A new session is served from the published set.
    let session = answer_session(&db, &training, subject, 99).await;
    let served = training_repo::session_items(&*db, session).await.unwrap();
    assert!(
        served
            .iter()
            .any(|s| s.parameter_set_id == good.parameter_set_id),
        "{:?}",
        served
            .iter()
            .map(|s| s.parameter_set_id)
            .collect::<Vec<_>>()
    );

    // The active set cannot be published again; an unknown set is refused.
    assert!(matches!(
        calibration.publish(good.parameter_set_id).await,
        Err(CalibrationError::NotCandidate(..))
    ));
    assert!(matches!(
        calibration.publish(999).await,
        Err(CalibrationError::UnknownSet(999))
    ));
}

/// Rewrites a set's recorded model in its notes, as a candidate of another model family would
/// carry.
async fn tag_model(db: &myqcm_testkit::TestDb, set: i64, model: &str) {
    let stored = training_repo::parameter_sets(&**db)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.id == set)
        .unwrap();
    let mut notes: serde_json::Value = serde_json::from_str(&stored.notes).unwrap();
    notes["model"] = serde_json::Value::from(model);
    calib_repo::set_parameter_set_notes(&**db, set, &notes.to_string())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_model_change_needs_a_two_percent_gain_and_calibrated_kcs() {
    let db = test_db().await.unwrap();
    let r = import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    assert!(r.committed, "{:?}", r.errors);
    let clock = fixed_clock();
    let training = Training::open(db.conn.clone(), Arc::new(clock.clone())).unwrap();
    let calibration =
        Calibration::new(db.conn.clone(), Arc::new(clock.clone())).with_min_kc_held_out(1);
    let subject = catalogue_repo::subject_by_code(&*db, "cardio")
        .await
        .unwrap()
        .unwrap()
        .id;
    for learner in 0..60u32 {
        answer_session(&db, &training, subject, learner).await;
    }
    let options = CalibrationOptions {
        min_responses: 5,
        min_kc_observations: 20,
        page_size: 1000,
    };
    // A first refresh puts a fitted set of the served model in use.
    let first = calibration.run(options, &|_, _| true).await.unwrap();
    assert_eq!(first.model, myqcm_services::calibration::SERVED_MODEL);
    let out = calibration.publish(first.parameter_set_id).await.unwrap();
    let PublishOutcome::Published { judgement, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(judgement.rule, "refresh", "{judgement:?}");

    // Same data, same model, but recorded as another model family: a model change. It is no
    // better than the set in use (the same fit), so the 2 % gain is missing: rejected, with
    // its report, though a refresh would have passed it.
    let same = calibration.run(options, &|_, _| true).await.unwrap();
    tag_model(&db, same.parameter_set_id, "next-model/2").await;
    let out = calibration.publish(same.parameter_set_id).await.unwrap();
    let PublishOutcome::Rejected(j) = out else {
        panic!("a model change without gain was published: {out:?}")
    };
    assert_eq!(j.rule, "model_change");
    assert_eq!(j.candidate_model.as_deref(), Some("next-model/2"));
    assert_eq!(
        j.current_model.as_deref(),
        Some(myqcm_services::calibration::SERVED_MODEL)
    );
    assert!(j.log_loss_change.abs() < 0.02, "{j:?}");
    assert!(j.reason.contains("2 %"), "{j:?}");
    assert!(!j.per_kc.is_empty(), "per-KC scores are computed: {j:?}");
    let notes: serde_json::Value = serde_json::from_str(
        &training_repo::parameter_sets(&*db)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.id == same.parameter_set_id)
            .unwrap()
            .notes,
    )
    .unwrap();
    assert_eq!(notes["judgement"]["rule"], "model_change");
    assert!(notes["judgement"]["per_kc"].as_array().unwrap().len() == j.per_kc.len());

    // Against the priors (a set in use of another recorded model), the fitted set gains far
    // more than 2 %: a model change that passes when its KCs are calibrated, and a corrupted
    // one (difficulties mirrored) that is refused.
    let active = training_repo::active_parameter_set(&*db).await.unwrap();
    tag_model(&db, active, "old-model/0").await;
    let items: Vec<Uuid> = calibration
        .attempt_log(1000)
        .await
        .unwrap()
        .items
        .into_keys()
        .collect();
    // The set in use becomes the priors (every fitted row put back to the prior of its item).
    let rows = calib_repo::calibration_items(&*db, &items).await.unwrap();
    let priors: Vec<(Uuid, f64, f64, f64)> = rows
        .iter()
        .map(|r| {
            let kind: ItemKind = r.kind.parse().unwrap();
            let d: Difficulty = r.difficulty.parse().unwrap();
            let n = serde_json::from_str::<serde_json::Value>(&r.content).unwrap()["options"]
                .as_array()
                .map_or(0, Vec::len);
            let p = prior_item_params(kind, d, n);
            (r.id, p.a(), p.b(), p.c())
        })
        .collect();
    training_repo::put_item_parameters(&*db, active, &priors)
        .await
        .unwrap();
    let bad = calibration.run(options, &|_, _| true).await.unwrap();
    let mut fitted = calib_repo::item_parameters(&*db, bad.parameter_set_id, &items)
        .await
        .unwrap();
    for r in &mut fitted {
        r.2 = -r.2 * 2.0;
    }
    training_repo::put_item_parameters(&*db, bad.parameter_set_id, &fitted)
        .await
        .unwrap();
    let out = calibration.publish(bad.parameter_set_id).await.unwrap();
    let PublishOutcome::Rejected(j) = out else {
        panic!("a corrupted model change was published: {out:?}")
    };
    assert_eq!(j.rule, "model_change");
    // The cohort leaves one KC with a few dozen held-out answers, whose ECE is noise (the
    // sessions' selection varies run to run): the better set is judged with the production
    // threshold of held-out answers per KC, which no KC reaches here, so the 2 % gain decides.
    // (The share of calibrated KCs is the pure rule's, tested in psychometrics.)
    let good = calibration.run(options, &|_, _| true).await.unwrap();
    let judge = Calibration::new(db.conn.clone(), Arc::new(clock.clone()));
    let out = judge.publish(good.parameter_set_id).await.unwrap();
    let PublishOutcome::Published { judgement: j, .. } = out else {
        panic!("a better model change was refused: {out:?}")
    };
    assert_eq!(j.rule, "model_change");
    assert!(j.log_loss_change <= -0.02, "{j:?}");
    assert!(j.per_kc.is_empty() && j.kcs_no_worse.is_none(), "{j:?}");
}

/// The options `learner` picks on `item`, by the cohort's rule (see [`answer_session`]).
async fn cohort_answer(
    db: &myqcm_testkit::TestDb,
    item: &myqcm_services::training::views::ServedItemView,
    learner: u32,
) -> Vec<usize> {
    let rev = catalogue_repo::revision(&**db, item.revision_id)
        .await
        .unwrap()
        .unwrap();
    let c: ItemContent = serde_json::from_str(&rev.content).unwrap();
    let group = calib_repo::calibration_items(&**db, &[item.item_id])
        .await
        .unwrap()
        .remove(0)
        .translation_group_id;
    let level = match c.difficulty {
        Difficulty::Easy => 1,
        Difficulty::Medium => 2,
        _ => 3,
    } + u32::from(group.as_bytes()[14] % 2);
    let right = learner % 5 >= level;
    (0..c.options.len())
        .filter(|i| c.options[*i].correct == right)
        .take(if right { usize::MAX } else { 1 })
        .collect()
}

/// Parameters of `item` in `set`, the priors when the set has no row.
async fn params_in(
    db: &myqcm_testkit::TestDb,
    set: i64,
    item: Uuid,
) -> myqcm_psychometrics::irt::ItemParams {
    if let Some((_, a, b, c)) = calib_repo::item_parameters(&**db, set, &[item])
        .await
        .unwrap()
        .first()
    {
        return myqcm_psychometrics::irt::ItemParams::three_pl(*a, *b, *c).unwrap();
    }
    let r = calib_repo::calibration_items(&**db, &[item])
        .await
        .unwrap()
        .remove(0);
    let c: ItemContent = serde_json::from_str(&r.content).unwrap();
    prior_item_params(c.kind, c.difficulty, c.options.len())
}

#[tokio::test]
async fn publishing_recomputes_learner_state_and_the_next_answer_uses_the_new_set() {
    use myqcm_domain::learning::{Ability, HistoryStep, replay_history};
    let db = test_db().await.unwrap();
    let r = import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    assert!(r.committed, "{:?}", r.errors);
    let clock = fixed_clock();
    let training = Training::open(db.conn.clone(), Arc::new(clock.clone())).unwrap();
    let calibration =
        Calibration::new(db.conn.clone(), Arc::new(clock.clone())).with_recompute_page(25);
    let subject = catalogue_repo::subject_by_code(&*db, "cardio")
        .await
        .unwrap()
        .unwrap()
        .id;
    for learner in 0..60u32 {
        answer_session(&db, &training, subject, learner).await;
    }
    // One more learner, strong (rule 4), answers four items and leaves the session open: its
    // pool is cached under the priors.
    let who = support::student();
    let s = support::start_session(&training, &who, subject).await;
    let mut item = s.current.unwrap();
    for _ in 0..4 {
        let options = cohort_answer(&db, &item, 4).await;
        let out = training
            .answer(
                &who,
                s.id,
                AnswerInput {
                    served_id: item.served_id,
                    options: Some(options),
                    text: None,
                },
            )
            .await
            .unwrap();
        let Next::Item(v) = out.next else {
            panic!("the session ended early")
        };
        item = *v;
    }
    let priors = training_repo::active_parameter_set(&*db).await.unwrap();
    let before = training_repo::ability(&*db, who.id, subject, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.answers, 4);

    let options = CalibrationOptions {
        min_responses: 5,
        min_kc_observations: 20,
        page_size: 1000,
    };
    let good = calibration.run(options, &|_, _| true).await.unwrap();
    let set = good.parameter_set_id;
    let out = calibration.publish(set).await.unwrap();
    let PublishOutcome::Published { recompute_job, .. } = out else {
        panic!("a fitted set was rejected: {out:?}")
    };
    // The recomputation is a queued job of the job table.
    let job = myqcm_db::jobs::get(&*db, recompute_job).await.unwrap();
    assert_eq!(job.kind, myqcm_services::calibration::RECOMPUTE_JOB);
    assert_eq!(job.payload["parameter_set_id"], set);

    // Stopped after its first page (the worker's cancellation path): the page stays written
    // and the cursor says so; the next run continues after it.
    let calls = Mutex::new(0);
    let stop_on_second = |_: f64, _: &str| {
        let mut n = calls.lock().unwrap();
        *n += 1;
        *n < 2
    };
    let stopped = calibration.recompute(set, &stop_on_second).await;
    assert!(
        matches!(stopped, Err(CalibrationError::Stopped)),
        "{stopped:?}"
    );
    let cursor = calibration.recompute_cursor(set).await.unwrap();
    assert_eq!(cursor.learners_done, 25);
    assert!(cursor.after.is_some() && cursor.finished_at_ms.is_none());
    let seen = Mutex::new(Vec::new());
    let record = |f: f64, _: &str| {
        seen.lock().unwrap().push(f);
        true
    };
    let done = calibration.recompute(set, &record).await.unwrap();
    assert_eq!(
        done,
        myqcm_services::calibration::RecomputeOutcome::Done {
            parameter_set_id: set,
            learners: 61
        }
    );
    let seen = seen.into_inner().unwrap();
    assert!(
        (seen[0] - 25.0 / 61.0).abs() < 1e-9,
        "resumed at 25 of 61: {seen:?}"
    );
    assert_eq!(seen.last().copied(), Some(1.0));
    assert!(
        calibration
            .recompute_cursor(set)
            .await
            .unwrap()
            .finished_at_ms
            .is_some()
    );

    // The learner's θ is the replay of their four answers under the new set.
    let attempts: Vec<_> = calibration
        .attempt_log(1000)
        .await
        .unwrap()
        .attempts
        .into_iter()
        .filter(|a| a.learner == who.id)
        .collect();
    assert_eq!(attempts.len(), 4);
    let mut steps = Vec::new();
    for a in &attempts {
        steps.push((params_in(&db, set, a.item).await, a.correct));
    }
    let (want, _) = replay_history(steps.iter().map(|(p, y)| HistoryStep::<Uuid, Uuid> {
        subject,
        item: p,
        kcs: &[],
        correct: *y,
    }));
    let after = training_repo::ability(&*db, who.id, subject, false)
        .await
        .unwrap()
        .unwrap();
    assert!(
        (after.theta - want[&subject].theta).abs() < 1e-12,
        "{after:?} {want:?}"
    );
    assert!((after.se - want[&subject].se).abs() < 1e-12);
    assert_eq!(after.answers, 4);
    assert!(
        (after.theta - before.theta).abs() > 1e-6,
        "the new set moves θ: {before:?} → {after:?}"
    );
    // The KC masteries were rewritten under the new set's BKT parameters.
    let kcs = training_repo::kc_states(&*db, who.id, &[], false)
        .await
        .unwrap();
    assert!(!kcs.is_empty() && kcs.iter().all(|k| k.evidence > 0));

    // The next answer in the session left open is served under the new set: the θ update
    // starts from the recomputed state with the new parameters of the answered item, and the
    // next item's stored prediction comes from that θ and the new set.
    let answered = item.item_id;
    let options = cohort_answer(&db, &item, 4).await;
    let out = training
        .answer(
            &who,
            s.id,
            AnswerInput {
                served_id: item.served_id,
                options: Some(options),
                text: None,
            },
        )
        .await
        .unwrap();
    let Next::Item(mut next) = out.next else {
        panic!("the session ended early")
    };
    let correct = out.grade.unwrap().correct.unwrap();
    let expected = Ability {
        theta: after.theta,
        se: after.se,
        answers: 4,
    }
    .observe(
        &params_in(&db, set, answered).await,
        f64::from(u8::from(correct)),
    )
    .unwrap();
    let mut now = training_repo::ability(&*db, who.id, subject, false)
        .await
        .unwrap()
        .unwrap();
    assert!(
        (now.theta - expected.theta).abs() < 1e-12,
        "{now:?} {expected:?}"
    );
    // Each item served from here on carries the new set's id when the set fitted it, and the
    // priors' id (0) when too few answers left it out of the fit; its stored prediction comes
    // from the learner's current θ and those parameters. The session goes on until an item the
    // new set fitted is served, so the claim is checked on one at least (which item comes next
    // depends on the random ids of the bank).
    let mut fitted_seen = false;
    for _ in 0..11 {
        let fitted = !calib_repo::item_parameters(&*db, set, &[next.item_id])
            .await
            .unwrap()
            .is_empty();
        let served = training_repo::session_items(&*db, s.id).await.unwrap();
        let row = served.iter().find(|r| r.id == next.served_id).unwrap();
        assert_eq!(
            row.parameter_set_id,
            if fitted { set } else { 0 },
            "served under the new set (fitted: {fitted}), not {priors}"
        );
        let p = Ability {
            theta: now.theta,
            se: now.se,
            answers: u32::try_from(now.answers).unwrap(),
        }
        .p_correct(&params_in(&db, set, next.item_id).await)
        .unwrap();
        assert!((row.p_correct.unwrap() - p).abs() < 1e-12, "{row:?} {p}");
        if fitted {
            fitted_seen = true;
            break;
        }
        let options = cohort_answer(&db, &next, 4).await;
        let out = training
            .answer(
                &who,
                s.id,
                AnswerInput {
                    served_id: next.served_id,
                    options: Some(options),
                    text: None,
                },
            )
            .await
            .unwrap();
        let Next::Item(v) = out.next else { break };
        next = v;
        now = training_repo::ability(&*db, who.id, subject, false)
            .await
            .unwrap()
            .unwrap();
    }
    assert!(fitted_seen, "no item the new set fitted was served");
    let served = training_repo::session_items(&*db, s.id).await.unwrap();
    // Earlier items of the session were served under the priors.
    assert!(served.iter().any(|r| r.parameter_set_id == priors));

    // Idempotent: a second run of a finished recomputation does nothing more.
    let again = calibration.recompute(set, &|_, _| true).await.unwrap();
    assert!(matches!(
        again,
        myqcm_services::calibration::RecomputeOutcome::Done { learners: 61, .. }
    ));
}
