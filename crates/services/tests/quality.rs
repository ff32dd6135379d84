//! Item quality from real answers (SQLite by default, PostgreSQL with
//! `MYQCM_TEST_DATABASE_URL`): a cohort answers the demo cardiology items through the training
//! use cases on one ability scale, except that on some item groups the strong learners pick a
//! wrong option and the weak ones the key (what a miskeyed item looks like). The scan must flag
//! exactly those groups' items as likely miskeys, keep a dismissed alert dismissed, and the item
//! report must show the distractor table.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use myqcm_db::catalogue as catalogue_repo;
use myqcm_db::training::calibration as calib_repo;
use myqcm_domain::Clock;
use myqcm_domain::catalogue::lifecycle::Actor;
use myqcm_domain::catalogue::{Difficulty, ItemContent};
use myqcm_domain::permissions::Role;
use myqcm_psychometrics::quality::AlertRules;
use myqcm_services::catalogue::quality;
use myqcm_services::import;
use myqcm_services::training::Training;
use myqcm_services::training::views::{AnswerInput, Next};
use myqcm_testkit::{epoch, fixed_clock, test_db};
use uuid::Uuid;

mod support;

/// Which item groups are answered upside down: every fifth group in the order the cohort first
/// meets them, starting with the first. Group ids are random, so a rule on their bytes flipped a
/// random share of the groups, and once (CI, 2026-12-06) none of the items answered often
/// enough to be analysed; the first group met is the one every learner's first item belongs
/// to (selection starts from the same prior), so at least one flipped group is always analysed.
#[derive(Default)]
struct Flips(HashMap<Uuid, bool>);

impl Flips {
    fn decide(&mut self, group: Uuid) -> bool {
        let n = self.0.len();
        *self.0.entry(group).or_insert(n.is_multiple_of(5))
    }

    fn flipped(&self, group: Uuid) -> bool {
        self.0[&group]
    }
}

fn actor(roles: Vec<Role>) -> Actor {
    Actor {
        id: Uuid::now_v7(),
        roles,
        scopes: vec![],
        mfa_enrolled: true,
    }
}

/// One learner's session of 15 cardiology QCS/QCM, answered to its end. Returns the items
/// answered with their group.
async fn answer_session(
    db: &myqcm_testkit::TestDb,
    training: &Training,
    subject: Uuid,
    learner: u32,
    flips: &mut Flips,
) -> Vec<(Uuid, Uuid)> {
    let who = actor(vec![Role::Student]);
    let s = support::start_session(training, &who, subject).await;
    let mut seen = Vec::new();
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
        seen.push((item.item_id, group));
        let level = match c.difficulty {
            Difficulty::Easy => 1,
            Difficulty::Medium => 2,
            _ => 3,
        };
        let strong = learner % 5 >= level;
        let right = strong != flips.decide(group);
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
            Next::End(_) => return seen,
        }
    }
}

#[tokio::test]
async fn the_scan_flags_miskeyed_items_and_the_report_shows_their_distractors() {
    let db = test_db().await.unwrap();
    let r = import::load_demo_bank(&db, Uuid::now_v7(), epoch())
        .await
        .unwrap();
    assert!(r.committed, "{:?}", r.errors);
    let clock = fixed_clock();
    let training = Training::open(db.conn.clone(), Arc::new(clock.clone())).unwrap();
    let subject = catalogue_repo::subject_by_code(&*db, "cardio")
        .await
        .unwrap()
        .unwrap()
        .id;
    let mut answers: HashMap<Uuid, (Uuid, usize)> = HashMap::new();
    let mut flips = Flips::default();
    for learner in 0..60u32 {
        for (item, group) in answer_session(&db, &training, subject, learner, &mut flips).await {
            answers.entry(item).or_insert((group, 0)).1 += 1;
        }
    }
    let rules = AlertRules {
        min_n: 12,
        ..AlertRules::default()
    };
    let progress = |_: f64, _: &str| true;
    let report = quality::scan(&db, &rules, clock.now(), &progress)
        .await
        .unwrap();
    assert!(report.items > 0, "{report:?}");
    let reviewer = actor(vec![Role::Reviewer]);
    let open = quality::open_alerts(&db, &reviewer, 500).await.unwrap();
    let miskeys: HashSet<Uuid> = open
        .iter()
        .filter(|a| a.code == "likely_miskey")
        .map(|a| a.item_id)
        .collect();
    // Flagged items are those whose group was answered upside down, bar a rare false alarm: a
    // screening statistic on a dozen-odd answers per item can turn negative by chance for an
    // item answered normally (seen once in CI), so at most one in ten flags (and at least one
    // allowed) may be such an item ...
    let false_alarms: Vec<&Uuid> = miskeys
        .iter()
        .filter(|item| !flips.flipped(answers[*item].0))
        .collect();
    assert!(
        false_alarms.len() <= (miskeys.len() / 10).max(1),
        "{} of {} flags are items answered normally: {false_alarms:?}",
        false_alarms.len(),
        miskeys.len()
    );
    // ... and the flipped items are the ones the statistic points at. Selection targets each
    // learner's θ̂, so an item is mostly answered by learners of one ability range and its
    // point-biserial over a dozen-odd answers is a weak signal item by item (seen in CI: 2 of
    // 4 flipped items flagged, the other two near 0). What must hold whatever the draw: every
    // analysed item whose correlation is below the rule's threshold is flagged, flipped items
    // correlate lower on average than the others, and at least one flipped item is flagged.
    let (mut flipped_r, mut normal_r, mut flagged) = (Vec::new(), Vec::new(), 0);
    for (item, (group, n)) in &answers {
        if *n < rules.min_n {
            continue;
        }
        let q = quality::item_quality(&db, &reviewer, *item).await.unwrap();
        let Some(r) = q.point_biserial else { continue };
        if r < rules.miskey_r {
            assert!(miskeys.contains(item), "{item} not flagged: {q:?}");
        }
        if flips.flipped(*group) {
            flipped_r.push(r);
            flagged += usize::from(miskeys.contains(item));
        } else {
            normal_r.push(r);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        !flipped_r.is_empty() && !normal_r.is_empty(),
        "no flipped or no normal item was analysed"
    );
    assert!(
        mean(&flipped_r) < mean(&normal_r),
        "flipped {flipped_r:?} against normal {normal_r:?}"
    );
    assert!(flagged >= 1, "no flipped item flagged: {flipped_r:?}");
    assert_eq!(
        report.raised.get("likely_miskey").copied(),
        Some(miskeys.len())
    );

    // The report of a flagged item: its distractor table and its alert.
    let item = *miskeys.iter().next().unwrap();
    let q = quality::item_quality(&db, &reviewer, item).await.unwrap();
    assert!(q.answers >= rules.min_n);
    assert!(!q.options.is_empty());
    assert!(q.options.iter().any(|o| o.key));
    let sum: f64 = q.band_sizes.iter().map(|&n| n as f64).sum();
    assert_eq!(sum as usize, q.answers);
    assert_eq!(q.alerts.len(), 1);
    assert_eq!(q.alerts[0].status, "open");

    // Learners and other authors do not see it; dismissing needs the review power.
    let learner = actor(vec![Role::Student]);
    assert!(quality::item_quality(&db, &learner, item).await.is_err());
    assert!(quality::open_alerts(&db, &learner, 10).await.is_err());
    assert!(
        quality::dismiss_alert(&db, &learner, item, "likely_miskey", clock.now())
            .await
            .is_err()
    );
    quality::dismiss_alert(&db, &reviewer, item, "likely_miskey", clock.now())
        .await
        .unwrap();
    // Dismissing twice: nothing open any more.
    assert!(
        quality::dismiss_alert(&db, &reviewer, item, "likely_miskey", clock.now())
            .await
            .is_err()
    );
    // A second scan keeps the dismissal and the other alerts.
    let again = quality::scan(&db, &rules, clock.now(), &progress)
        .await
        .unwrap();
    assert_eq!(again.cleared, 0);
    let q = quality::item_quality(&db, &reviewer, item).await.unwrap();
    assert_eq!(q.alerts[0].status, "dismissed");
    let still_open = quality::open_alerts(&db, &reviewer, 500).await.unwrap();
    assert_eq!(still_open.len(), open.len() - 1);
}
